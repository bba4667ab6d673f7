"""Pilots: a measurable goal, a baseline window, progress and statistics from history."""
