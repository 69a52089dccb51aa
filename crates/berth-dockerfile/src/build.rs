//! The resolved build description: stages, bases, ARG scoping, every word expanded. (Being written.)
