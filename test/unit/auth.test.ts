import { describe, expect, it } from "vitest";
import { authenticate, timingSafeEqual } from "../../functions/_shared/auth.ts";

const SECRET = "s".repeat(40);
const PREVIOUS = "p".repeat(40);
const SERVICE = "service-role-key-xxxxxxxxxxxxxxxxxxxx";
const env = (vars: Record<string, string>) => (name: string) => vars[name];
const base = { CRON_SECRET: SECRET, SUPABASE_SERVICE_ROLE_KEY: SERVICE };

describe("authenticate", () => {
  it("accepts the cron secret and the service-role bearer", () => {
    expect(authenticate(new Headers({ "x-cron-secret": SECRET }), env(base))).toEqual({ ok: true, method: "cron_secret" });
    expect(authenticate(new Headers({ authorization: `Bearer ${SERVICE}` }), env(base))).toEqual({ ok: true, method: "service_role" });
  });

  it("accepts the previous secret only while CRON_SECRET_PREVIOUS is set", () => {
    const h = new Headers({ "x-cron-secret": PREVIOUS });
    expect(authenticate(h, env({ ...base, CRON_SECRET_PREVIOUS: PREVIOUS }))).toEqual({ ok: true, method: "cron_secret_previous" });
    expect(authenticate(h, env(base))).toMatchObject({ ok: false, status: 401 });
  });

  it("refuses a wrong or missing secret, and x-manual-call grants nothing", () => {
    expect(authenticate(new Headers({ "x-cron-secret": SECRET.slice(1) + "x" }), env(base))).toMatchObject({ ok: false, status: 401 });
    expect(authenticate(new Headers({ "x-manual-call": "true" }), env(base))).toMatchObject({ ok: false, status: 401, error: "unauthorized" });
    expect(authenticate(new Headers({ authorization: `Bearer ${SECRET}` }), env(base))).toMatchObject({ ok: false, status: 401 });
  });

  it("fails closed with 500 misconfigured when CRON_SECRET is missing or short", () => {
    expect(authenticate(new Headers({ "x-cron-secret": "" }), env({}))).toEqual({ ok: false, status: 500, error: "misconfigured" });
    const short = "x".repeat(31);
    expect(authenticate(new Headers({ "x-cron-secret": short }), env({ CRON_SECRET: short }))).toMatchObject({ status: 500 });
    // Even a valid service-role key does not get through a misconfigured function.
    expect(authenticate(new Headers({ authorization: `Bearer ${SERVICE}` }), env({ SUPABASE_SERVICE_ROLE_KEY: SERVICE }))).toMatchObject({ status: 500 });
  });
});

describe("timingSafeEqual", () => {
  it("compares exactly", () => {
    expect(timingSafeEqual("abc", "abc")).toBe(true);
    expect(timingSafeEqual("abd", "abc")).toBe(false);
    expect(timingSafeEqual("ab", "abc")).toBe(false);
    expect(timingSafeEqual("abcd", "abc")).toBe(false);
    expect(timingSafeEqual("", "abc")).toBe(false);
    expect(timingSafeEqual("é", "é")).toBe(true);
  });
});
