# make test's JAX pass puts this folder first on PYTHONPATH, so that `import tensorflow` fails there as it does on a
# machine with JAX and no TensorFlow (the GPU machines the book is timed on): a chapter that needs TensorFlow
# without saying so (dlbook_utils.backends.TENSORFLOW_ONLY) fails the pass instead of working by accident.
raise ImportError("TensorFlow is hidden in make test's JAX pass (tests/without_tensorflow): this code imports it "
                  "on the JAX backend; use keras / dlbook_utils.autodiff, or guard the import")
