// Everything `latentkit analyze` reports about a run's codes: active units and PCA of the test codes, and the
// test error of classifiers trained on the training codes (paper 000, Fig. 4), with the time each part took.

import Foundation

public struct LatentAnalysis {
    public static let activityThreshold = 0.01

    public var family: LatentFamily
    public var trainCount: Int
    public var testCount: Int
    public var unitActivity: [Double]
    public var pca: PCAResult
    public var distance: Distance
    /// k → test error of the k-NN vote.
    public var knnErrors: [Int: Double]
    public var logisticRegressionError: Double
    public var ldaError: Double
    public var logisticRegressionIterations: Int
    /// The largest gradient component at the end of L-BFGS (convergence: below 1e-6).
    public var logisticRegressionGradient: Double
    /// Seconds per part: "knn", "logistic_regression", "lda", "pca".
    public var seconds: [String: Double] = [:]

    public var activeUnits: Int { unitActivity.filter { $0 > Self.activityThreshold }.count }

    /// Runs every analysis; k-NN on `backend`. Throws when a `neighbours` value exceeds the training set. Simplex
    /// codes are split into simplices of `simplexSize` shares (a Concrete's categoricals) for the unit activity.
    public init(family: LatentFamily, train: LatentCodes, test: LatentCodes, neighbours: [Int] = [2, 5, 10],
                simplexSize: Int? = nil, backend: any Backend) throws {
        guard train.size == test.size else { throw DataError("train codes of size \(train.size), test codes of size \(test.size)") }
        guard train.count > 0 && test.count > 0 else { throw DataError("no codes to analyse (\(train.count) train, \(test.count) test)") }
        let kMax = neighbours.max() ?? 1
        guard kMax <= train.count else {
            throw DataError("k = \(kMax) nearest neighbours need at least \(kMax) training images, got \(train.count)")
        }
        self.family = family
        trainCount = train.count
        testCount = test.count
        var clock = Date(), times: [String: Double] = [:]
        func lap(_ name: String) {
            times[name] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        unitActivity = CodeStatistics.unitActivity(test, measure: family.activityMeasure, groupSize: simplexSize)
        pca = PCAResult(test)
        lap("pca")
        distance = family.hasSimplexCodes ? .hellinger : .euclidean
        let search = NearestNeighbours(backend: backend)
        let nearest = try search.search(query: test, reference: train, k: kMax, distance: distance)
        times["knn_distances"] = search.timing.distances
        times["knn_selection"] = search.timing.selection
        var knn: [Int: Double] = [:]
        for k in neighbours {
            knn[k] = classificationError(NearestNeighbours.vote(nearest, width: kMax, k: k, labels: train.labels), test.labels)
        }
        knnErrors = knn
        lap("knn")
        let regression = try LogisticRegression(train: train)
        logisticRegressionError = classificationError(regression.predict(test), test.labels)
        logisticRegressionIterations = regression.iterations
        logisticRegressionGradient = regression.finalGradientNorm
        lap("logistic_regression")
        ldaError = classificationError(try LinearDiscriminant(train: train).predict(test), test.labels)
        lap("lda")
        seconds = times
    }

    /// The `analysis.json` object (the report reads these keys).
    public func json(run: String, backend: String) -> [String: Any] {
        let pcaJSON: [String: Any] = [
            "explained_variance": pca.explainedVariance, "explained_variance_ratio": pca.explainedVarianceRatio,
            "components_for_95": pca.components(for: 0.95),
        ]
        let classification: [String: Any] = [
            "distance": distance.rawValue,
            "knn": Dictionary(uniqueKeysWithValues: knnErrors.map { (String($0.key), $0.value) }),
            "logistic_regression": logisticRegressionError, "lda": ldaError,
            "logistic_regression_iterations": logisticRegressionIterations, "logistic_regression_gradient": logisticRegressionGradient,
        ]
        return [
            "run": run, "family": family.rawValue, "latent_size": unitActivity.count, "code": family.codeKind.rawValue,
            "train_images": trainCount, "test_images": testCount,
            "active_units": ["count": activeUnits, "threshold": Self.activityThreshold, "activity": unitActivity,
                             "measure": family.activityMeasure.rawValue] as [String: Any],
            "pca": pcaJSON, "classification": classification, "seconds": seconds, "backend": backend,
        ]
    }

    /// A readable summary for the terminal.
    public var table: String {
        var lines: [String] = []
        lines.append("codes: \(family.codeKind.rawValue) of \(family.rawValue), \(unitActivity.count) units; \(trainCount) train, \(testCount) test images")
        lines.append("active units: \(activeUnits) of \(unitActivity.count) (\(family.activityMeasure.formula) > \(Self.activityThreshold))")
        lines.append("  activity: " + unitActivity.map { String(format: "%.3g", $0) }.joined(separator: " "))
        let ratios = pca.explainedVarianceRatio
        lines.append("PCA: \(pca.components(for: 0.95)) components explain 95% of the variance; leading ratios "
                     + ratios.prefix(10).map { String(format: "%.3f", $0) }.joined(separator: " "))
        lines.append("classification error on the test codes (\(distance.rawValue) k-NN, trained on the train codes):")
        let ks = knnErrors.keys.sorted()
        lines.append("  " + ks.map { "k=\($0)".padding(toLength: 8, withPad: " ", startingAt: 0) }.joined()
                     + "LR      LDA")
        lines.append("  " + (ks.map { knnErrors[$0]! } + [logisticRegressionError, ldaError])
            .map { String(format: "%5.2f%%  ", 100 * $0) }.joined())
        lines.append(String(format: "time: k-NN %.2f s (distance GEMMs %.2f s, selection %.2f s), logistic regression %.2f s (%d L-BFGS iterations), LDA %.2f s, PCA %.2f s",
                            seconds["knn"] ?? 0, seconds["knn_distances"] ?? 0, seconds["knn_selection"] ?? 0,
                            seconds["logistic_regression"] ?? 0, logisticRegressionIterations,
                            seconds["lda"] ?? 0, seconds["pca"] ?? 0))
        return lines.joined(separator: "\n")
    }
}
