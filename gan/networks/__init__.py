"""Generators and the discriminator (REFERENCE §3). Layer sizes, filters and paddings come from
``dsp.schedule``; nothing here re-derives them."""
