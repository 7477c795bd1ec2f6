// One libFuzzer entry point for every reader of outside bytes; LATENTKIT_FUZZ_TARGET picks the reader:
//   idx3, idx1     IDX image and label files (plain or gzip: zlib passes plain files through), IDX.read
//   safetensors    checkpoint.safetensors, Checkpoint.read
//   config         config.json, RunConfig.load and validate
//   report         metrics.jsonl, eval.json and analysis.json of a run as `latentkit report` reads and renders them
//   npy            a NumPy .npy data file as `train --data` reads it, LabelledImages(npy:labels:) (NPY.read and its checks)
// Each input is written to a file in /dev/shm (the readers take paths) and read back. Any crash, sanitizer report, or
// allocation over libFuzzer's -malloc_limit_mb is a finding; a thrown error is the expected answer to a bad file.

import Foundation
import LatentKit

enum FuzzTarget: String {
    case idx3, idx1, safetensors, config, report, npy
}

// nonisolated(unsafe): both are set once in LLVMFuzzerInitialize, before libFuzzer calls LLVMFuzzerTestOneInput, and
// libFuzzer calls it from one thread.
nonisolated(unsafe) var target = FuzzTarget.idx3
nonisolated(unsafe) var scratch = ""

/// libFuzzer's driver, entered from the executable's main (SwiftPM names it LatentKitFuzz_main; libFuzzer's own main is
/// then not linked).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("LatentKitFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in testOneInput(data, size) }
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    if let folder = ProcessInfo.processInfo.environment["LATENTKIT_FUZZ_WRITE_SEEDS"] {
        writeSeeds(to: folder)
        exit(0)
    }
    let name = ProcessInfo.processInfo.environment["LATENTKIT_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data(
            "LATENTKIT_FUZZ_TARGET must be one of idx3, idx1, safetensors, config, report, npy (got '\(name)')\n".utf8))
        exit(2)
    }
    target = t
    scratch = "/dev/shm/latentkit-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: scratch)
    try! FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    if t == .report {
        var config = RunConfig()
        config.epochs = 1
        try! config.save(to: scratch + "/config.json")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    func put(_ name: String) -> String {
        let path = "\(scratch)/\(name)"
        FileManager.default.createFile(atPath: path, contents: bytes)
        return path
    }
    switch target {
    case .idx3: _ = try? IDX.read(put("images"), dimensions: 3)
    case .idx1: _ = try? IDX.read(put("labels"), dimensions: 1)
    case .safetensors: _ = try? Checkpoint.read(put("checkpoint.safetensors"))
    case .config:
        if let config = try? RunConfig.load(from: put("config.json")) { try? config.validate() }
    case .report:
        for name in ["metrics.jsonl", "eval.json", "analysis.json"] { _ = put(name) }
        if let summary = try? RunSummary.load(scratch) { _ = HTMLReport.page([summary]) }
    case .npy:
        if let items = try? LabelledImages(npy: put("data.npy"), labels: nil) { _ = items.kind }
    }
    return 0
}

/// Valid files, one folder per target, that the fuzzer starts from (scripts/fuzz.sh adds gzip copies of the IDX ones).
func writeSeeds(to folder: String) {
    func write(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) {
        let dir = "\(folder)/\(target.rawValue)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(bytes))
    }
    func header(_ magic: UInt32, _ dims: [UInt32]) -> [UInt8] {
        ([magic] + dims).flatMap { v in [24, 16, 8, 0].map { UInt8((v >> UInt32($0)) & 0xFF) } }
    }
    write(.idx3, "three-28x28", header(0x0803, [3, 28, 28]) + (0..<(3 * 784)).map { UInt8($0 % 251) })
    write(.idx3, "one-2x2", header(0x0803, [1, 2, 2]) + [0, 64, 128, 255])
    write(.idx1, "three", header(0x0801, [3]) + [5, 0, 4])
    var checkpoint = Checkpoint()
    checkpoint.add("encoder.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
    checkpoint.add("encoder.bias", shape: [1, 3], values: [0.5, .pi, -1])
    checkpoint.metadata = ["epoch": "3", "step": "0"]
    write(.safetensors, "small", checkpoint.encoded())
    let config = scratch.isEmpty ? "/dev/shm/latentkit-fuzz-seed-config.json" : scratch + "/seed-config.json"
    try! RunConfig().save(to: config)
    write(.config, "default", [UInt8](FileManager.default.contents(atPath: config)!))
    write(.report, "metrics", Array(#"{"epoch":1,"images_per_second":1000,"kl":20.5,"loss":120.25,"reconstruction":99.75,"seconds":3}"#.utf8))
    write(.report, "eval", Array(#"{"active_units":18,"images":1000,"k":5000,"test_kl":25.1,"test_neg_elbo":103.4,"test_nll":99.1}"#.utf8))
    write(.npy, "f4-3x4", [UInt8](try! NPY.encode((0..<12).map { Float($0) / 4 - 1 }, shape: [3, 4])))
    write(.npy, "i4-2x2x2", [UInt8](try! NPY.encode((0..<8).map { Int32($0) }, shape: [2, 2, 2])))
    write(.report, "analysis", Array(#"{"knn":{"2":0.05,"5":0.04},"logistic_regression":0.08,"lda":0.12,"active_units":18}"#.utf8))
}
