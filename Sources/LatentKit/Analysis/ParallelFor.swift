// Dispatch's concurrentPerform takes a @Sendable closure. The analyses' loops (t-SNE's gradient, the logistic
// regression's loss) capture buffers that iteration i writes only at index i, and read-only inputs: sound to share,
// but not expressible as Sendable. This is the one place that says so.

import Dispatch

/// Runs `body(i)` for every `i` in `0..<iterations` on Dispatch's threads and returns when all have finished.
/// Each iteration must write only state that no other iteration touches.
func parallelFor(iterations: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { escapable in
        let shared = SharedLoopBody(run: escapable)
        DispatchQueue.concurrentPerform(iterations: iterations) { shared.run($0) }
    }
}

/// The loop body handed to Dispatch's threads. @unchecked: the body lives only for the `concurrentPerform` call
/// (it is non-escaping for the caller), and by `parallelFor`'s contract its iterations write disjoint state.
private struct SharedLoopBody: @unchecked Sendable {
    let run: (Int) -> Void
}
