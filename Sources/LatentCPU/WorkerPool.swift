// A persistent pool of helper threads for the CPU backend's parallel loops. A training step issues ~70 small
// parallel ops back to back; with Dispatch's concurrentPerform each hand-off went through the scheduler (about
// 13% of a step in perf). Helpers here spin briefly on an atomic generation counter before sleeping, so
// consecutive ops reach an already-awake thread.

import Dispatch
import Foundation
import Synchronization

// @unchecked: `job` and `chunkCount` are written only by the caller that holds `busy`, before the sequentially
// consistent increment of `generation` that helpers acquire, and cleared only after `remaining` (which each helper
// decrements with release ordering after its last read of them) reaches zero. The jobs are the CPU ops' loops, closures
// over raw buffer pointers: chunk c writes only its own range of the output, so helpers never write the same element.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(helpers: max(0, cores - 1))

    let helpers: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)
    /// One parallel op at a time; a caller that finds the pool busy runs its op on its own thread.
    private let busy = NSLock()
    private var job: ((Int) -> Void)?
    private var chunkCount = 0

    init(helpers: Int) {
        self.helpers = helpers
        for index in 0..<helpers {
            let thread = Thread { [unowned self] in self.helperLoop(index + 1) }
            thread.name = "latentkit-cpu-\(index + 1)"
            thread.start()
        }
    }

    private func helperLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var since = DispatchTime.now().uptimeNanoseconds
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds - since > 30_000 {
                    // 30 µs with nothing to do: sleep until the next op
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    if generation.load(ordering: .sequentiallyConsistent) == seen {
                        wake.wait()
                    } else if sleeping.exchange(0, ordering: .sequentiallyConsistent) == 0 {
                        wake.wait()  // the poster already counted us asleep and signalled: take that signal
                    }
                    spins = 0
                    since = DispatchTime.now().uptimeNanoseconds
                }
            }
            seen = generation.load(ordering: .acquiring)
            if index < chunkCount, let job { job(index) }
            remaining.subtract(1, ordering: .releasing)
        }
    }

    /// Runs `body(0..<chunks)` with chunk 0 on the calling thread and the others on helpers; returns when all are done.
    func run(chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 1, helpers > 0, busy.try() else {
            for c in 0..<chunks { body(c) }
            return
        }
        defer { busy.unlock() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            chunkCount = chunks
            remaining.store(helpers, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            let asleep = sleeping.exchange(0, ordering: .sequentiallyConsistent)
            for _ in 0..<asleep { wake.signal() }
            body(0)
            for c in (helpers + 1)..<max(chunks, helpers + 1) { body(c) }  // more chunks than threads: the caller takes them
            while remaining.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }
}
