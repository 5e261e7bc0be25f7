"""The shared vocabulary every layer uses: block and network specs and their keys, channel rounding,
search spaces, the Keras builders, TFLite conversion and reading, byte sizes, the Progress protocol."""
