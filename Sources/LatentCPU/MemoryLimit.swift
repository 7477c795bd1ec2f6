// The memory this process may use: the machine's, or less where a control group caps it (a container's, or a batch
// job's: Slurm and Kubernetes both set one). Past a control group's limit the kernel kills the process without a
// word, so the CPU backend refuses an allocation that would cross it, as it does one past the machine's memory.

import Foundation

public enum MemoryLimit {
    /// Where the limit came from, for messages.
    public enum Source: Equatable, Sendable {
        case machine
        case controlGroup(path: String)
    }

    /// The smallest of the machine's memory and the memory limits of this process's control groups (v2's
    /// `memory.max`, v1's `memory.limit_in_bytes`, the group's own and every ancestor's), read once.
    public static let current: (bytes: UInt64, source: Source) = effective(
        physical: ProcessInfo.processInfo.physicalMemory, cgroupMembership: contents("/proc/self/cgroup"), read: contents)

    /// The limit for a process whose `/proc/self/cgroup` reads `cgroupMembership`, with `read` giving a file's text
    /// (nil where it is missing): a separate function so that tests can hand it a made-up hierarchy.
    public static func effective(physical: UInt64, cgroupMembership: String?,
                                 read: (String) -> String?) -> (bytes: UInt64, source: Source) {
        var best: (bytes: UInt64, source: Source) = (physical, .machine)
        for line in (cgroupMembership ?? "").split(whereSeparator: \.isNewline) {
            // "hierarchy:controllers:path"; v2's unified hierarchy is "0::path", v1's memory controller "N:memory:path"
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let mount: String, file: String
            if fields[0] == "0" && fields[1].isEmpty {
                (mount, file) = ("/sys/fs/cgroup", "memory.max")
            } else if fields[1].split(separator: ",").contains("memory") {
                (mount, file) = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            } else {
                continue
            }
            // Every ancestor's limit applies too; and inside a container that mounts only its own group, the path
            // named here may not exist under the mount while the mount's root is that group: walking up reaches it.
            var path = String(fields[2])
            while true {
                let candidate = mount + (path == "/" ? "" : path) + "/" + file
                // "max" (v2) is no limit; v1 writes no limit as a number near 2^63, larger than any machine
                if let text = read(candidate), let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                   value < best.bytes {
                    best = (value, .controlGroup(path: candidate))
                }
                guard let slash = path.lastIndex(of: "/"), path != "/" else { break }
                path = slash == path.startIndex ? "/" : String(path[..<slash])
            }
        }
        return best
    }

    /// Says what holds the process to `bytes`: "this machine has N MiB" or "its control group allows N MiB (FILE)".
    public static func describe(_ limit: (bytes: UInt64, source: Source)) -> String {
        switch limit.source {
        case .machine: return "this machine has \(amount(limit.bytes))"
        case .controlGroup(let path): return "this process's control group allows \(amount(limit.bytes)) (\(path))"
        }
    }

    /// `bytes` in whole MiB, or in KiB below one MiB (a small control group's limit would otherwise read "0 MiB").
    public static func amount(_ bytes: UInt64) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}
