// The checks `latentkit selftest` runs that no other suite runs: every op against the CPU backend at several shapes,
// and short training runs of every recipe against the CPU backend; and the command itself.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct SelfTestTests {
    @Test(arguments: TestBackends.others, AgreementChecks.all + TrainingAgreementChecks.all)
    func backendAgreesWithTheCPUBackend(kind: BackendKind, check: Check) throws {
        let result = try check.run(TestBackends.backend(kind))
        #expect(result.passed, "\(check): \(result.summary)")
    }

    /// Every check is in the self-test, the CPU backend skips only the comparisons with itself, and names are unique
    /// (a filter must be able to pick one).
    @Test func theSelfTestHasEveryCheck() {
        let names = SelfTest.checks.map(\.description)
        #expect(Set(names).count == names.count, "duplicate check names")
        let cpu = SelfTest.checks(for: CPUBackend.shared)
        #expect(cpu.count == SelfTest.checks.filter { !$0.needsReference }.count && cpu.count > 80)
        #expect(SelfTest.checks.contains { $0.group == "training" } && SelfTest.checks.contains { $0.group == "agreement" })
    }

    /// The command prints one line per check and exits 0; a filter that matches nothing is a one-line error.
    @Test(arguments: TestBackends.all)
    func commandRunsTheChecks(kind: BackendKind) throws {
        let ok = try runTool(["selftest", "--backend", kind.rawValue, "--filter", "dirichlet"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let lines = ok.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("PASS ") }.count >= 2 && !ok.stdout.contains("FAIL"), "\(ok.stdout)")
        #expect(lines.last?.hasPrefix("selftest: ") == true, "\(ok.stdout)")
        let two = try runTool(["selftest", "--backend", kind.rawValue, "--filter", "lgamma against", "--filter", "digamma against"])
        #expect(two.status == 0 && two.stdout.split(separator: "\n").filter { $0.hasPrefix("PASS ") }.count == 2, "\(two.stdout)")
        let none = try runTool(["selftest", "--backend", kind.rawValue, "--filter", "no such check"])
        #expect(none.status != 0 && none.stderr.contains("no check matches"), "\(none.stderr)")
    }
}
