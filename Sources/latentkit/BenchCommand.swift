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
            + "iterations); every iteration waits for the device. Prints the median time and throughput of each, and for a "
            + "training step its gemm_share: the step's own GEMMs, timed alone at their shapes, over the step's median.")

    @OptionGroup var backendOptions: BackendOptions

    @Option(help: "Batch sizes for GEMM, the family kernels and the Gaussian training step (comma-separated).")
    var batches: String = "100,1000,10000"

    @Option(help: "Batch sizes for the training step of every other recipe (comma-separated).")
    var recipeBatches: String = "100"

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
        /// Training steps: the step's own GEMMs timed alone at its shapes, over the step (``Workloads/gemmShare``).
        let gemmShare: Double?

        enum CodingKeys: String, CodingKey {
            case name, iterations, unit
            case medianSeconds = "median_seconds", perSecond = "per_second", gemmShare = "gemm_share"
        }
    }

    func validate() throws {
        if let json { try requireWritableFile(json, flag: "--json") }
    }

    func run() throws {
        func batchSizes(_ list: String, _ flag: String) throws -> [Int] {
            // empty items kept, so that "10,,100" or an empty list is an error rather than fewer sizes
            try list.split(separator: ",", omittingEmptySubsequences: false).map { text -> Int in
                guard let b = Int(text.trimmingCharacters(in: .whitespaces)), b >= 1, b <= 1_000_000 else {
                    throw ToolError("\(flag): '\(text)' is not a batch size from 1 to 1,000,000")
                }
                return b
            }
        }
        let sizes = try batchSizes(batches, "--batches"), recipeSizes = try batchSizes(recipeBatches, "--recipe-batches")
        guard seconds > 0 && seconds <= 600 else { throw ToolError("--seconds must be in (0, 600]") }
        let backend = try backendOptions.make()
        let workloads = (Workloads.kernels(batches: sizes) + Workloads.training(gaussianBatches: sizes, recipeBatches: recipeSizes))
            .filter { w in filter.map { w.name.contains($0) } ?? true }
        guard !workloads.isEmpty else { throw ToolError("bench: no workload matches --filter \(filter ?? "")") }
        print("bench on \(backend.name) (\(backend.deviceDescription)): \(workloads.count) workloads, \(seconds) s each")
        var timings: [Timing] = []
        for workload in workloads {
            let times = try Workloads.time(workload, on: backend, seconds: seconds).sorted()
            let median = times[times.count / 2]
            let share = workload.unit == .images
                ? try Workloads.gemmShare(workload, on: backend, iterationSeconds: median, seconds: seconds) : nil
            timings.append(Timing(name: workload.name, medianSeconds: median, iterations: times.count, unit: workload.unit.rawValue,
                                  perSecond: workload.workPerIteration / median, gemmShare: share))
            let name: String = workload.name.padding(toLength: Swift.max(48, workload.name.count), withPad: " ", startingAt: 0)
            let time: String = String(format: " %10.3f ms  ", median * 1000)
            let rate: String = workload.throughput(secondsPerIteration: median)
            let gemm: String = share.map { String(format: "  gemm_share %.2f", $0) } ?? ""
            print(name + time + rate + "  (\(times.count) iterations)" + gemm)
            flushStandardOutput()
        }
        if let json { try writeJSON(timings, to: json) }
    }
}
