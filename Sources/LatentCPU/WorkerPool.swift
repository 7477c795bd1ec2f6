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
    /// Where helpers sleep: they read `generation` under its lock before waiting, and a poster that finds any asleep
    /// broadcasts under it.
    private let sleepers = NSCondition()
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
                    // 30 µs with nothing to do: sleep until the next op. This thread counts itself asleep, then reads the
                    // generation; the poster bumps the generation, then reads the count (all four sequentially
                    // consistent), so either this thread sees the new op or the poster sees it asleep and broadcasts
                    // under the lock this thread holds until it waits: no op is missed. (The semaphore this replaces
                    // lost a wake-up with two helpers or more: one helper taking the count back after the bump could
                    // take another's, and `train` hung at its first op with LATENTKIT_THREADS=3 on 2 cores.)
                    sleepers.lock()
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { sleepers.wait() }
                    sleeping.subtract(1, ordering: .sequentiallyConsistent)
                    sleepers.unlock()
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
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                sleepers.lock()
                sleepers.broadcast()
                sleepers.unlock()
            }
            body(0)
            for c in (helpers + 1)..<max(chunks, helpers + 1) { body(c) }  // more chunks than threads: the caller takes them
            while remaining.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }
}
