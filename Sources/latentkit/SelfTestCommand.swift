// `latentkit selftest`: the suite's backend checks from the command line, for nodes with a device but no toolchain.

import ArgumentParser
import Foundation
import LatentChecks
import LatentKit

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check a backend: special functions against mpmath values, Philox known answers, every gradient rule against "
            + "finite differences, every op and short training runs against the CPU backend.",
        discussion: "Prints one line per check and exits with status 1 if any check fails. The checks against the CPU backend "
            + "are skipped when the backend under test is the CPU backend itself.")

    @OptionGroup var backendOptions: BackendOptions

    @Option(help: "Run only the checks whose name contains this text (e.g. dirichlet); repeat it for any of several.")
    var filter: [String] = []

    @Flag(help: "List the checks without running them.")
    var list = false

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    struct Outcome: Encodable {
        let group: String
        let name: String
        let passed: Bool
        let summary: String
        let seconds: Double
    }

    func validate() throws {
        if let json { try requireWritableFile(json, flag: "--json") }
    }

    func run() throws {
        let backend = try backendOptions.make()
        let checks = SelfTest.checks(for: backend, filters: filter)
        guard !checks.isEmpty else { throw ToolError("selftest: no check matches --filter \(filter.joined(separator: ", "))") }
        if list {
            for check in checks { print(check) }
            return
        }
        print("selftest on \(backend.name) (\(backend.deviceDescription)): \(checks.count) checks"
              + (backend.kind == .cpu ? " (the checks against the CPU backend are skipped on the CPU backend)" : ""))
        var outcomes: [Outcome] = []
        let start = Date()
        for check in checks {
            let started = Date()
            let (passed, summary): (Bool, String)
            do {
                let result = try check.run(backend)
                (passed, summary) = (result.passed, result.summary)
            } catch {
                (passed, summary) = (false, "error: \(error)")
            }
            let seconds = Date().timeIntervalSince(started)
            outcomes.append(Outcome(group: check.group, name: check.name, passed: passed, summary: summary, seconds: seconds))
            print("\(passed ? "PASS" : "FAIL") \(check): \(summary)")
            flushStandardOutput()
        }
        let failed = outcomes.filter { !$0.passed }
        if let json { try writeJSON(outcomes, to: json) }
        print(String(format: "selftest: %d of %d checks passed on %@ in %.1f s", outcomes.count - failed.count, outcomes.count,
                     backend.deviceDescription, Date().timeIntervalSince(start)))
        if let first = failed.first {
            throw ToolError("selftest: \(failed.count) of \(outcomes.count) checks failed on \(backend.deviceDescription); first: "
                            + "\(first.group): \(first.name)")
        }
    }
}
