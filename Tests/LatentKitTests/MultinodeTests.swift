// Data-parallel training across nodes over TCP (scripts/multinode-check.sh), in a suite of its own: most of its
// minute is spent waiting (for the ranks to notice a killed node or a cut link), so it runs beside the other suites
// instead of at the end of DataParallelTests's serialized chain, which made it the suite's critical path. Its network
// namespaces and its Open MPI and MPICH jobs are its own, so it does not disturb DataParallelTests's ranks; its time
// bounds (300 s per job) leave room for the load of the suites beside it.

import Foundation
import Testing
import TestSupport

@Suite struct MultinodeTests {
    /// scripts/multinode-check.sh: two nodes (network namespaces with their own addresses and host names) over TCP only,
    /// under Open MPI and MPICH, a node killed and a link cut. It needs root; without it the script says SKIPPED, which
    /// this test prints, and with LATENTKIT_REQUIRE_MULTINODE=1 (CI) it fails.
    @Test func trainingAcrossNodesOverTCP() throws {
        let result = try runProgram("/bin/bash", [packageRoot() + "/scripts/multinode-check.sh", "2", toolPath])
        print(result.stdout)
        #expect(result.status == 0, "\(result.stdout.suffix(1500)) \(result.stderr.suffix(1500))")
        #expect(result.stdout.contains("multinode-check: passed") || result.stdout.contains("multinode-check: SKIPPED"))
        if result.stdout.contains("SKIPPED") { print("NOTE: trainingAcrossNodesOverTCP did not run: \(result.stdout)") }
    }
}
