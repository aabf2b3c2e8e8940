"""Streams: the Faust app turning city.events.v1 into raw points, roll-ups, health and alerts."""
