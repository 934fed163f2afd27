"""Test support shared by every service's tests: real servers started once per
session, fresh databases and topics per test, and helpers that wait on conditions
with deadlines (never fixed sleeps)."""
