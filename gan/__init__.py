"""``gan``: the torch side. Filters and layer schedules come from ``dsp``; never
re-derived here."""
