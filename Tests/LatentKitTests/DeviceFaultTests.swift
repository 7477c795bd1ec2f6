// A device that fails mid-run, as a GPU does when it runs out of memory or resources: faults injected into the OpenCL
// backend's calls (`LATENTKIT_OPENCL_INJECT_FAULT`, Sources/LatentOpenCL/CLError.swift) end `train` with a one-line
// error that names the failing call and its status, leave the last checkpoint whole, and `--resume` then finishes the
// run with the losses of an uninterrupted one. OpenCL only: the CPU backend has no device to fail.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct DeviceFaultTests {
    /// 200 images in batches of 20: 10 steps an epoch, a checkpoint after each.
    static func trainArguments(_ run: String, epochs: Int = 2) -> [String] {
        ["train", "--backend", "opencl", "--limit", "200", "--batch-size", "20", "--epochs", "\(epochs)", "--out", run]
    }

    static func faulty(_ spec: String, _ arguments: [String]) throws -> ToolResult {
        try runTool(arguments, environment: ["LATENTKIT_OPENCL_INJECT_FAULT": spec])
    }

    @Test(arguments: TestBackends.others)
    func aFailingKernelLaunchEndsTheRunNamingItAndResumeFinishes(kind: BackendKind) throws {
        let dir = try temporaryDirectory("device-fault-launch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // the launches of one epoch (LATENTKIT_TRACE_LAUNCHES prints one line per launch), so the fault lands in the second
        let traced = try runTool(Self.trainArguments(dir + "/traced", epochs: 1), environment: ["LATENTKIT_TRACE_LAUNCHES": "1"])
        #expect(traced.status == 0, "\(traced.stderr.suffix(500))")
        let launches = traced.stderr.split(separator: "\n").filter { $0.hasPrefix("launch ") }.count
        #expect(launches > 100)

        let run = dir + "/run"
        let failed = try Self.faulty("clEnqueueNDRangeKernel@\(launches + launches / 2)", Self.trainArguments(run))
        #expect(failed.status == 1)
        let line = failed.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n") && line.contains("clEnqueueNDRangeKernel(") && line.contains("CL_OUT_OF_RESOURCES")
                && line.contains("the last checkpoint is kept: resume with latentkit train --resume \(run)"), "\(failed.stderr)")
        let kept = try Checkpoint.read(run + "/checkpoint.safetensors")
        #expect(kept.metadata["epoch"] == "1")

        let resumed = try runTool(["train", "--resume", run, "--backend", "opencl"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let whole = dir + "/whole"
        #expect(try runTool(Self.trainArguments(whole)).status == 0)
        let got = try RunDirectory(run).readMetrics().map { $0["loss"] as? Double }
        let want = try RunDirectory(whole).readMetrics().map { $0["loss"] as? Double }
        #expect(got.count == 2 && got == want, "resumed \(got) vs uninterrupted \(want)")
    }

    /// Reads fail at several points: the loss read-backs, and the parameter downloads of the second epoch's checkpoint
    /// write. Whatever the point, the error names the read, and the checkpoint is the previous whole one (or there is none
    /// yet) and resumes.
    @Test(arguments: TestBackends.others)
    func aFailingReadNeverLeavesABrokenCheckpoint(kind: BackendKind) throws {
        let dir = try temporaryDirectory("device-fault-read")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var landed: [Int: String] = [:]
        for n in [10, 30, 60] {
            let run = dir + "/run\(n)"
            let failed = try Self.faulty("clEnqueueReadBuffer@\(n)", Self.trainArguments(run))
            #expect(failed.status == 1 && failed.stderr.contains("clEnqueueReadBuffer") && failed.stderr.contains("CL_OUT_OF_RESOURCES"),
                    "read \(n): status \(failed.status), \(failed.stderr)")
            guard FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors") else {
                landed[n] = "before the first checkpoint"
                continue
            }
            let epoch = try Checkpoint.read(run + "/checkpoint.safetensors").metadata["epoch"] ?? "?"
            landed[n] = "checkpoint of epoch \(epoch) kept"
            #expect(failed.stderr.contains("the last checkpoint is kept"), "\(failed.stderr)")
            let resumed = try runTool(["train", "--resume", run, "--backend", "opencl"])
            let epochs = try RunDirectory(run).readMetrics().count
            #expect(resumed.status == 0 && epochs == 2, "read \(n): \(resumed.stderr)")
        }
        // the last fault must land after a checkpoint, or this test checks nothing about keeping one
        #expect(landed[60]?.contains("kept") == true, "\(landed)")
    }

    @Test(arguments: TestBackends.others)
    func aFailingAllocationIsAClearError(kind: BackendKind) throws {
        let dir = try temporaryDirectory("device-fault-allocation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let failed = try Self.faulty("clCreateBuffer@20=CL_MEM_OBJECT_ALLOCATION_FAILURE", Self.trainArguments(dir + "/run"))
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("device out of memory: clCreateBuffer(") && failed.stderr.contains("CL_MEM_OBJECT_ALLOCATION_FAILURE"),
                "\(failed.stderr)")
    }

    /// More than the device allows in one buffer, or more than it has, is refused before anything is allocated.
    @Test(arguments: TestBackends.others)
    func anAllocationBeyondTheDeviceIsRefusedFirst(kind: BackendKind) throws {
        let backend = try OpenCLBackend.shared()
        let tooLarge = Int(backend.device.maxAllocation / 4) + 1
        for count in [tooLarge, Int.max / 2] {
            do {
                _ = try backend.allocate(count: count, dtype: .float32)
                Issue.record("allocating \(count) floats did not throw")
            } catch {
                #expect("\(error)".contains("asked for") && "\(error)".contains("MiB per buffer"), "\(error)")
            }
        }
    }

    @Test(arguments: TestBackends.others)
    func aMalformedFaultSpecificationIsRefused(kind: BackendKind) throws {
        let result = try runTool(["devices"], environment: ["LATENTKIT_OPENCL_INJECT_FAULT": "clFinish=CL_NO_SUCH_STATUS"])
        #expect(result.status == 2 && result.stderr.contains("unknown status 'CL_NO_SUCH_STATUS'"), "\(result.status) \(result.stderr)")
    }
}
