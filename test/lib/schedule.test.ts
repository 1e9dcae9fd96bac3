import { describe, expect, it } from "vitest";
import {
  backlogWindowMinutes,
  failureWindowMinutes,
  MAX_ALARM_WINDOW_MINUTES,
  maxMinutesBetweenRuns,
  notRunningWindowMinutes,
} from "../../lib/schedule";

describe("maxMinutesBetweenRuns", () => {
  it.each([
    ["rate(1 minute)", 1],
    ["rate(15 minutes)", 15],
    ["rate(1 hour)", 60],
    ["rate(6 hours)", 360],
    ["rate(1 day)", 1440],
    ["rate(3 days)", 4320],
  ])("takes a rate's interval: %s is %i minutes", (schedule, minutes) => {
    expect(maxMinutesBetweenRuns(schedule)).toBe(minutes);
  });

  it.each([
    ["cron(0 * * * ? *)", 60],
    ["cron(15 * ? * * *)", 60],
    ["cron(0/15 * * * ? *)", 15],
    ["cron(5/20 * * * ? *)", 20], // 5, 25, 45, then 5 of the next hour
    ["cron(*/10 * * * ? *)", 10],
    ["cron(0 8,20 * * ? *)", 720],
    ["cron(0 9-17 * * ? *)", 960], // 17:00 to 09:00 the next day
    ["cron(30 2 * * ? *)", 1440],
    ["cron(0,30 0-23/6 * * ? *)", 330],
    ["cron(0 0-12/4 * * ? *)", 720], // 0, 4, 8, 12, then 0 the next day
  ])("works out the longest gap of a daily cron: %s is %i minutes", (schedule, minutes) => {
    expect(maxMinutesBetweenRuns(schedule)).toBe(minutes);
  });

  it.each([
    "cron(0 2 ? * MON-FRI *)",
    "cron(0 2 1 * ? *)",
    "cron(0 2 ? JAN * *)",
    "cron(0 2 * * ? 2027)",
    "cron(0 2 L * ? *)",
    "cron(0 25 * * ? *)",
    "cron(61 * * * ? *)",
    "cron(0 5-2 * * ? *)",
    "cron(0/0 * * * ? *)",
    "cron(0 * * * ?)",
    "every hour",
  ])("gives up on %s", (schedule) => {
    expect(maxMinutesBetweenRuns(schedule)).toBeUndefined();
  });
});

describe("alarm windows", () => {
  it("calls the schedule stopped after about two intervals, never sooner than the interval plus 30 minutes", () => {
    expect(notRunningWindowMinutes(1)).toBe(31);
    expect(notRunningWindowMinutes(5)).toBe(35);
    expect(notRunningWindowMinutes(30)).toBe(60);
    expect(notRunningWindowMinutes(60)).toBe(120);
    expect(notRunningWindowMinutes(1440)).toBe(2880);
  });

  it("allows at most a day of slack for long intervals, and gives up beyond CloudWatch's seven days", () => {
    expect(notRunningWindowMinutes(3 * 1440)).toBe(4 * 1440);
    expect(notRunningWindowMinutes(6 * 1440)).toBe(MAX_ALARM_WINDOW_MINUTES);
    expect(notRunningWindowMinutes(6 * 1440 + 1)).toBeUndefined();
    expect(failureWindowMinutes(6 * 1440 + 1)).toBe(MAX_ALARM_WINDOW_MINUTES);
  });

  it("keeps a failure in ALARM for the same window as the stopped-schedule alarm", () => {
    for (const interval of [1, 5, 60, 720, 1440, 2880]) {
      expect(failureWindowMinutes(interval)).toBe(notRunningWindowMinutes(interval));
    }
  });

  it("spans the given number of runs for the backlog, capped at seven days", () => {
    expect(backlogWindowMinutes(60, 3)).toBe(180);
    expect(backlogWindowMinutes(5, 1)).toBe(5);
    expect(backlogWindowMinutes(3 * 1440, 3)).toBe(MAX_ALARM_WINDOW_MINUTES);
  });
});
