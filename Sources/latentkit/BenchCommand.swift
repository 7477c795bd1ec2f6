// `latentkit bench`: the benchmark workloads (LatentChecks/Workloads.swift, the ones Benchmarks/ registers) timed from
// the command line, for nodes with a device but no toolchain.

import ArgumentParser
import Foundation
import LatentChecks
import LatentKit

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the kernels and the training step on a backend.",
        discussion: "Each workload is built and run once to warm up, then timed until --seconds have passed (at least 3 "
            + "iterations); every iteration waits for the device. Prints the median time and throughput of each.")

    @OptionGroup var backendOptions: BackendOptions

    @Option(help: "Batch sizes for GEMM, the family kernels and the Gaussian training step (comma-separated).")
    var batches: String = "100,1000,10000"

    @Option(help: "Seconds to time each workload for.")
    var seconds: Double = 1

    @Option(help: "Run only the workloads whose name contains this text (e.g. 'train', 'gemm').")
    var filter: String?

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    struct Timing: Encodable {
        let name: String
        let medianSeconds: Double
        let iterations: Int
        let unit: String
        let perSecond: Double
    }

    func run() throws {
        let sizes = try batches.split(separator: ",").map { text -> Int in
            guard let b = Int(text.trimmingCharacters(in: .whitespaces)), b >= 1, b <= 1_000_000 else {
                throw ToolError("--batches: '\(text)' is not a batch size from 1 to 1,000,000")
            }
            return b
        }
        guard seconds > 0 && seconds <= 600 else { throw ToolError("--seconds must be in (0, 600]") }
        let backend = try backendOptions.make()
        let workloads = (Workloads.kernels(batches: sizes) + Workloads.training(gaussianBatches: sizes))
            .filter { w in filter.map { w.name.contains($0) } ?? true }
        guard !workloads.isEmpty else { throw ToolError("bench: no workload matches --filter \(filter ?? "")") }
        print("bench on \(backend.name) (\(backend.deviceDescription)): \(workloads.count) workloads, \(seconds) s each")
        var timings: [Timing] = []
        for workload in workloads {
            let times = try Workloads.time(workload, on: backend, seconds: seconds).sorted()
            let median = times[times.count / 2]
            timings.append(Timing(name: workload.name, medianSeconds: median, iterations: times.count, unit: workload.unit.rawValue,
                                  perSecond: workload.workPerIteration / median))
            print(workload.name.padding(toLength: Swift.max(48, workload.name.count), withPad: " ", startingAt: 0)
                  + String(format: " %10.3f ms  ", median * 1000) + workload.throughput(secondsPerIteration: median) + "  (\(times.count) iterations)")
            flushStandardOutput()
        }
        if let json { try writeJSON(timings, to: json) }
    }
}
