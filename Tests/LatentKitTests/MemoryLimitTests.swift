// The memory the CPU backend lets a process use: the machine's, or a control group's limit where one is lower (a
// container's, a Slurm job's), read from made-up hierarchies here; the real one is whatever this machine has.

import Foundation
import LatentCPU
import LatentCore
import Testing

@Suite struct MemoryLimitTests {
    static let gib: UInt64 = 1 << 30

    static func limit(_ membership: String?, _ files: [String: String]) -> (bytes: UInt64, source: MemoryLimit.Source) {
        MemoryLimit.effective(physical: 64 * gib, cgroupMembership: membership, read: { files[$0] })
    }

    @Test func aSlurmJobsLimitOnAnAncestorGroupApplies() {
        let got = Self.limit("0::/system.slice/slurmstepd.scope/job_12/step_0\n", [
            "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/step_0/memory.max": "max\n",
            "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/memory.max": "4294967296\n",
            "/sys/fs/cgroup/memory.max": "max\n",
        ])
        #expect(got.bytes == 4 * Self.gib)
        #expect(got.source == .controlGroup(path: "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/memory.max"))
    }

    @Test func aVersion1ContainerMountingOnlyItsOwnGroupIsFoundAtTheRoot() {
        let got = Self.limit("12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n", [
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824",
        ])
        #expect(got.bytes == Self.gib)
        #expect(MemoryLimit.describe(got) == "this process's control group allows 1024 MiB (/sys/fs/cgroup/memory/memory.limit_in_bytes)")
    }

    @Test func noLimitLeavesTheMachinesMemory() {
        for (membership, files) in [
            ("0::/\n", ["/sys/fs/cgroup/memory.max": "max\n"]),
            ("4:memory:/user.slice\n", ["/sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes": "9223372036854771712\n"]),
            ("0::/\n", ["/sys/fs/cgroup/memory.max": "garbage"]),
            (nil, [:]),
        ] as [(String?, [String: String])] {
            let got = Self.limit(membership, files)
            #expect(got.bytes == 64 * Self.gib && got.source == .machine, "\(String(describing: membership))")
            #expect(MemoryLimit.describe(got) == "this machine has 65536 MiB")
        }
    }

    @Test func smallAmountsReadInKiB() {
        #expect(MemoryLimit.amount(512 << 10) == "512 KiB")
        #expect(MemoryLimit.amount(3 << 20 | 5) == "3 MiB")
        #expect(MemoryLimit.describe((1 << 20 - 1, .controlGroup(path: "g"))) == "this process's control group allows 1023 KiB (g)")
    }

    /// Past the limit (whichever it is here), an allocation is refused with a message, before any memory is taken.
    @Test func theCPUBackendRefusesMoreThanTheLimit() throws {
        let limit = MemoryLimit.current
        do {
            _ = try CPUBackend.shared.allocate(count: Int(limit.bytes / 4) + 1, dtype: .float32)
            Issue.record("allocating past \(limit.bytes) bytes did not throw")
        } catch {
            #expect("\(error)".contains("asked for") && "\(error)".contains(MemoryLimit.describe(limit)), "\(error)")
        }
    }
}
