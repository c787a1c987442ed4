"""Helpers around the network: photo loading, colour spaces, rotations, PLY export."""
