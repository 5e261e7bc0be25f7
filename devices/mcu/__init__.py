"""Microcontrollers: int8 op descriptions, the calibrated cycle model, and exact memory from TFLite-Micro."""
