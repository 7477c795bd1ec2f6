// The `latentkit` binary: `devices`, `op`, and one-line errors with a non-zero exit for bad input.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct CommandLineTests {
    @Test(arguments: TestBackends.all)
    func opPrintsOneResultPerLine(kind: BackendKind) throws {
        let result = try runTool(["op", "digamma", "--backend", kind.rawValue], input: "1\n2\n\n0\nnan\n1e-6\n")
        #expect(result.status == 0, "\(result.stderr)")
        let values = result.stdout.split(separator: "\n").map { Float(String($0))! }
        let want: [Float] = [-0.577_215_66, 0.422_784_34, -.infinity, .nan, -1_000_000.56]
        #expect(firstMismatch(values, want, rtol: 1e-6) == nil, "\(values)")
    }

    @Test func opReadsAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("latentkit-op-\(getpid()).txt").path
        try "0\n-100\n100\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runTool(["op", "softplus", "--backend", "cpu", "--input", path])
        #expect(result.status == 0)
        let values = result.stdout.split(separator: "\n").map { Float(String($0)) ?? .nan }
        #expect(firstMismatch(values, [0.693_147_18, 3.720_076e-44, 100], rtol: 1e-6) == nil, "\(values)")
    }

    @Test func devicesNamesTheAutoChoice() throws {
        let result = try runTool(["devices"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("--backend auto picks: "))
        #expect(result.stdout.contains("CPU backend"))
    }

    /// (arguments, standard input, extra environment, text the error must contain)
    static let badInputs: [([String], String, [String: String], String)] = [
        (["op", "gamma"], "1\n", [:], "digamma"),
        (["op", "exp", "--backend", "cpu"], "1\nabc\n", [:], "line 2: 'abc' is not a number"),
        (["op", "exp", "--backend", "gpu"], "1\n", [:], "'auto', 'cpu' or 'opencl'"),
        (["op", "exp", "--input", "/nonexistent/numbers.txt"], "", [:], "cannot read input file"),
        (["op", "exp", "--backend", "opencl"], "1\n", ["OCL_ICD_VENDORS": "/nonexistent"], "no OpenCL platform"),
        (["frobnicate"], "", [:], "Unexpected argument"),
        (["bench", "--backend", "cpu", "--batches", "10,,100"], "", [:], "--batches: '' is not a batch size from 1 to 1,000,000"),
        (["bench", "--backend", "cpu", "--recipe-batches", ""], "", [:], "--recipe-batches: '' is not a batch size"),
        (["bench", "--backend", "cpu", "--seconds", "0"], "", [:], "--seconds must be in (0, 600]"),
        // an output that cannot be written is refused before the work, not after it
        (["bench", "--backend", "cpu", "--json", "/nonexistent/bench.json"], "", [:], "the folder /nonexistent does not exist or is not writable"),
        (["selftest", "--backend", "cpu", "--json", "/tmp"], "", [:], "--json /tmp is a folder; name a file"),
        (["selftest", "--backend", "cpu", "--list", "--filter", "no-such-check"], "", [:], "no check matches --filter no-such-check"),
        (["op", "exp", "--backend", "cpu"], "1\r\n2\r\nx\r\n", [:], "line 3: 'x' is not a number"),
        // outside an op's domain the backends give NaN: refused rather than printed as a result
        (["op", "lgamma", "--backend", "cpu"], "1\n-3.5\n", [:], "line 2: lgamma is defined here for x >= 0.0, got -3.5"),
        (["op", "log1p", "--backend", "cpu"], "-2\n", [:], "line 1: log1p is defined here for x >= -1.0, got -2.0"),
    ]

    @Test(arguments: 0..<badInputs.count)
    func badInputIsAOneLineErrorAndANonZeroExit(index: Int) throws {
        let (arguments, input, environment, message) = Self.badInputs[index]
        let result = try runTool(arguments, input: input, environment: environment)
        #expect(result.status != 0)
        #expect(result.status < 128, "terminated by a signal: \(result.status)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}
