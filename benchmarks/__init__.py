"""`make bench`: performance figures for vast-pulumi with the real Pulumi CLI and the emulator."""
