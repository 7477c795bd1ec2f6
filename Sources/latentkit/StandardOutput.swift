// Glibc declares `stdout` as a mutable global, which Swift 6 will not read from nonisolated code unless the module
// is imported @preconcurrency. Nothing here assigns it, and stdio locks the stream on each call, so sharing it is
// safe. This file imports only the C library, so the relaxation reaches no other declaration.
#if canImport(Glibc)
@preconcurrency import Glibc
#else
@preconcurrency import Darwin
#endif

/// Writes out what `print` has buffered, so a line shows before a long computation.
func flushStandardOutput() { fflush(stdout) }

/// Makes standard output line-buffered, so each progress line reaches a pipe or a log file as it happens.
func lineBufferStandardOutput() { setvbuf(stdout, nil, _IOLBF, 0) }
