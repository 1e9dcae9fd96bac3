/**
 * `atlas-audit-archiver completion bash|zsh`: prints a shell completion script generated from the
 * command list (`./index.ts`) and each command's options and help, so it never drifts from them.
 */

import type { CommandModule, CommandOptions } from "../command";
import { commandFlags, type OptionValues, usageError } from "../command";
import { formatHelp, type HelpOption, helpOptions } from "../help";
import type { CliIo } from "../io";

export const summary = "Print a shell completion script for bash or zsh.";

/** The shells a script is written for. */
const SHELLS = ["bash", "zsh"] as const;
type Shell = (typeof SHELLS)[number];

export const options = { shell: { type: "string" } } as const;

export const argument = { option: "shell", choices: SHELLS };

export const help = formatHelp({
  usage: "completion bash|zsh",
  summary,
  arguments: [
    ["bash", "Bash: add `source <(atlas-audit-archiver completion bash)` to ~/.bashrc"],
    [
      "zsh",
      "Zsh: save the script as _atlas-audit-archiver in a directory of fpath before compinit " +
        "(e.g. `atlas-audit-archiver completion zsh > ~/.zfunc/_atlas-audit-archiver` with " +
        "`fpath=(~/.zfunc $fpath)` in ~/.zshrc), or add `source <(atlas-audit-archiver completion zsh)` after compinit",
    ],
  ],
  options: [["--shell SHELL", "The shell, as the argument gives it: bash or zsh"]],
  environment: [],
  exitStatus: "0 when the script was printed, 2 on a usage error.",
});

/** The executable the scripts complete. */
const PROGRAM = "atlas-audit-archiver";
/** The words the dispatcher answers before any command. */
const GLOBAL_FLAGS = ["--help", "-h", "--version", "-V"];
/** Names that go into a script unquoted: commands, flags, choices. */
const PLAIN = /^-{0,2}[A-Za-z0-9][A-Za-z0-9-]*$/;

/** What a script needs to know of one command. */
interface CompletedCommand {
  readonly name: string;
  readonly summary: string;
  /** The first line of its help: `Usage: atlas-audit-archiver ...`. */
  readonly usage: string;
  /** Every flag, `--help` included, long ones first. */
  readonly flags: readonly string[];
  /** The options that take a value, as `--name`. */
  readonly valued: readonly string[];
  /** The options whose value is a file (`FILE` in the help) or a directory (`DIR`). */
  readonly files: readonly string[];
  readonly dirs: readonly string[];
  /** The words the command's argument may be, and its option. */
  readonly argument?: { readonly option: string; readonly choices: readonly string[] };
  /** Each long flag's help row, if it has one. */
  readonly rows: ReadonlyMap<string, HelpOption>;
}

/**
 * The command list the scripts complete. The list (`./index.ts`) hands itself over with
 * {@link completeCommands} once it is built: it includes this module, so importing it from here
 * would be an import circle.
 */
let COMMANDS: Readonly<Record<string, CommandModule<CommandOptions>>> = {};

/** Sets the command list that `completion` generates its scripts from. */
export function completeCommands(commands: Readonly<Record<string, CommandModule<CommandOptions>>>): void {
  COMMANDS = commands;
}

/** Each command of the list, read from its module. */
function completedCommands(): CompletedCommand[] {
  return Object.entries(COMMANDS).map(([name, module]) => {
    const rows = new Map<string, HelpOption>();
    for (const row of helpOptions(module.help)) for (const flag of row.flags) rows.set(flag, row);
    const valued = Object.entries(module.options)
      .filter(([, o]) => o.type === "string")
      .map(([option]) => `--${option}`);
    const flags = commandFlags(module.options).sort(
      (a, b) => Number(!a.startsWith("--")) - Number(!b.startsWith("--")),
    );
    for (const word of [name, ...flags, ...(module.argument?.choices ?? [])]) {
      if (!PLAIN.test(word)) throw new Error(`completion: ${JSON.stringify(word)} cannot go into a script`);
    }
    return {
      name,
      summary: module.summary,
      usage: module.help.split("\n\n")[0] ?? "",
      flags,
      valued,
      files: valued.filter((f) => rows.get(f)?.value === "FILE"),
      dirs: valued.filter((f) => rows.get(f)?.value === "DIR"),
      ...(module.argument
        ? { argument: { option: `--${module.argument.option}`, choices: module.argument.choices } }
        : {}),
      rows,
    };
  });
}

/** The bash script: `complete -F` with a function that reads `COMP_WORDS`. */
export function bashScript(commands: readonly CompletedCommand[] = completedCommands()): string {
  const names = commands.map((c) => c.name).join(" ");
  const cases = commands
    .map((c) =>
      [
        `    ${c.name})`,
        `      flags="${c.flags.join(" ")}"`,
        `      valued="${c.valued.join(" ")}"`,
        `      files="${c.files.join(" ")}"`,
        `      dirs="${c.dirs.join(" ")}"`,
        ...(c.argument
          ? [`      argument="${c.argument.option}"`, `      choices="${c.argument.choices.join(" ")}"`]
          : []),
        "      ;;",
      ].join("\n"),
    )
    .join("\n");
  return `# bash completion for ${PROGRAM}, generated by \`${PROGRAM} completion bash\`.
# Load it with: source <(${PROGRAM} completion bash)
_atlas_audit_archiver() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=($(compgen -W "${names} help ${GLOBAL_FLAGS.join(" ")}" -- "$cur"))
    return 0
  fi
  local flags="" valued="" files="" dirs="" argument="" choices=""
  case "\${COMP_WORDS[1]}" in
    help)
      (( COMP_CWORD == 2 )) && COMPREPLY=($(compgen -W "${names}" -- "$cur"))
      return 0
      ;;
${cases}
    *)
      return 0
      ;;
  esac
  if [[ -n "$prev" && " $files " == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ -n "$prev" && " $dirs " == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -d -- "$cur"))
  elif [[ -n "$argument" && "$prev" == "$argument" ]]; then
    COMPREPLY=($(compgen -W "$choices" -- "$cur"))
  elif [[ -n "$prev" && " $valued " == *" $prev "* ]]; then
    return 0
  elif [[ -n "$choices" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$choices" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  fi
  return 0
}
complete -F _atlas_audit_archiver ${PROGRAM}
`;
}

/** `text` in zsh single quotes. */
function zshQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** A description for zsh: the first clause of `text` without its parentheses, nor the brackets `_arguments` reads. */
function zshText(text: string): string {
  const clause = text.replace(/ \([^()]*\)/g, "").split(/: |; /)[0] ?? "";
  return clause
    .replace(/[[\]`]/g, "")
    .replace(/\.$/, "")
    .trim();
}

/** The word for the value of `flag`: from its help row (`--config FILE`), else from the usage line, else `value`. */
function valueWord(command: CompletedCommand, flag: string): string {
  const fromRow = command.rows.get(flag)?.value;
  const fromUsage = new RegExp(`${flag} ([A-Z][A-Z_]*)\\b`).exec(command.usage)?.[1];
  return (fromRow ?? fromUsage ?? "value").toLowerCase();
}

/** One zsh `_arguments` spec for the flag `flag` of `command`. */
function zshSpec(command: CompletedCommand, flag: string): string {
  const text = zshText(command.rows.get(flag)?.text ?? "");
  const described = text ? `${flag}[${text}]` : flag;
  if (!command.valued.includes(flag)) return zshQuote(described);
  const action = command.files.includes(flag)
    ? "_files"
    : command.dirs.includes(flag)
      ? "_files -/"
      : command.argument?.option === flag
        ? `(${command.argument.choices.join(" ")})`
        : " ";
  return zshQuote(`${described}:${valueWord(command, flag)}:${action}`);
}

/** The zsh script: a `#compdef` function, loaded from `fpath` or sourced. */
export function zshScript(commands: readonly CompletedCommand[] = completedCommands()): string {
  const described = commands.map((c) => `    ${zshQuote(`${c.name}:${zshText(c.summary)}`)}`).join("\n");
  const cases = commands
    .map((c) => {
      const specs = c.flags
        .filter((f) => f.startsWith("--") && f !== "--help")
        .map((f) => `        ${zshSpec(c, f)} \\`);
      const argument = c.argument
        ? [`        '1:${c.argument.option.slice(2)}:(${c.argument.choices.join(" ")})' \\`]
        : [];
      return [
        `    ${c.name})`,
        "      _arguments \\",
        ...specs,
        ...argument,
        "        '(- *)'{-h,--help}'[Show the help of the command]'",
        "      ;;",
      ].join("\n");
    })
    .join("\n");
  return `#compdef ${PROGRAM}
# zsh completion for ${PROGRAM}, generated by \`${PROGRAM} completion zsh\`.
# Save it as _${PROGRAM} in a directory of fpath (before compinit), or: source <(${PROGRAM} completion zsh)
_atlas_audit_archiver() {
  local -a commands
  commands=(
${described}
    'help:Show the help of a command'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'command' commands
    _arguments '(- *)'{-h,--help}'[Show the command list]' '(- *)'{-V,--version}'[Print the version]'
    return
  fi
  local command=$words[2]
  shift words
  (( CURRENT-- ))
  case $command in
    help)
      (( CURRENT == 2 )) && _describe -t commands 'command' commands
      ;;
${cases}
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _atlas_audit_archiver "$@"
else
  compdef _atlas_audit_archiver ${PROGRAM}
fi
`;
}

const SCRIPTS: Readonly<Record<Shell, () => string>> = { bash: () => bashScript(), zsh: () => zshScript() };

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const shell = values.shell as Shell | undefined;
  if (shell === undefined) {
    throw usageError(
      "shell",
      () => `completion needs the shell: ${SHELLS.join(" or ")}, e.g. completion bash.`,
    );
  }
  io.stdout.write(SCRIPTS[shell]());
  return 0;
}
