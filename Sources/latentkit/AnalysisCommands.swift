// `latentkit encode RUN_DIR` and `latentkit analyze RUN_DIR`: the latent codes of a trained run, and what they
// tell (active units, PCA, classification error of k-NN, logistic regression and LDA on them).

import ArgumentParser
import Foundation
import LatentKit

/// The run, its data, and the codes of both splits (grey-level images, batch norm by running statistics).
func encodeRun(_ path: String, dataDirectory: String?, trainLimit: Int?, testLimit: Int?, needsLabels: Bool = false,
               on backend: any Backend) throws -> (RunConfig, train: LatentCodes, test: LatentCodes) {
    let (config, model) = try loadRun(path, on: backend)
    let data = try config.loadData(directory: dataDirectory, trainLimit: trainLimit, testLimit: testLimit)
    if needsLabels && !(data.train.isLabelled && data.test.isLabelled) {
        throw ToolError("\(path): its data has no labels (train with --labels, and --test-labels with --test-data); the classification analyses need them")
    }
    let train = try LatentCodes.encode(data.train, model: model, backend: backend)
    let test = try LatentCodes.encode(data.test, model: model, backend: backend)
    return (config, train, test)
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Write the posterior codes of the train and test images with their labels (.npy and .csv).",
        discussion: """
            Codes: the posterior mean (gaussian), the mean of the logit (logit-normal), the class probabilities \
            (concrete), alpha/alpha_0 (dirichlet), of the grey-level images. Files: train_codes.npy, train_labels.npy, \
            test_codes.npy, test_labels.npy (float32 N x nz, int32 N), train.csv, test.csv.
            """)

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @Option(help: "Output folder (default: RUN_DIR/codes).") var out: String?
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Encode the first N images of each split only.") var limit: Int?
    @Option(help: "Folder with the dataset's IDX files (default: the run's).") var dataDir: String?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1, got \(limit)") }
    }

    func run() throws {
        let backend = try backendOptions.make()
        let started = Date()
        let (config, train, test) = try encodeRun(runDirectory, dataDirectory: dataDir, trainLimit: limit, testLimit: limit, on: backend)
        let folder = out ?? runDirectory + "/codes"
        // a run on its own files without labels has none to write (rather than a column of zeros)
        let files = config.data, trainLabelled = files == nil || files?.trainLabels != nil
        let testLabelled = files == nil || (files?.test == nil ? trainLabelled : files?.testLabels != nil)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, codes, labelled) in [("train", train, trainLabelled), ("test", test, testLabelled)] {
                try NPY.encode(codes.values, shape: [codes.count, codes.size]).write(to: URL(fileURLWithPath: "\(folder)/\(name)_codes.npy"))
                if labelled {
                    try NPY.encode(codes.labels, shape: [codes.count]).write(to: URL(fileURLWithPath: "\(folder)/\(name)_labels.npy"))
                }
                try codes.csv(labelled: labelled).write(toFile: "\(folder)/\(name).csv", atomically: true, encoding: .utf8)
            }
            let unlabelled = [("train", trainLabelled), ("test", testLabelled)].filter { !$0.1 }.map(\.0)
            if !unlabelled.isEmpty {
                print("note: no labels in the \(unlabelled.joined(separator: " and ")) data: no "
                      + unlabelled.map { "\($0)_labels.npy" }.joined(separator: " or ") + ", and no label column in their .csv")
            }
        } catch {
            throw ToolError("cannot write the codes to \(folder): \(error.localizedDescription)")
        }
        print("wrote \(train.count) train and \(test.count) test codes (\(config.model.latent.codeKind.rawValue), "
              + "\(train.size) values each) to \(folder) in " + String(format: "%.1f s on %@", Date().timeIntervalSince(started), backend.name))
    }
}

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Active units, PCA and classification error (k-NN, logistic regression, LDA) of a run's latent codes.",
        discussion: "Writes RUN_DIR/analysis.json and prints a table. k-NN runs on the backend; the rest on the host.")

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Use the first N training images only.") var limitTrain: Int?
    @Option(help: "Use the first N test images only.") var limitTest: Int?
    @Option(help: "Neighbour counts of the k-NN classifiers, comma-separated.") var neighbours: String = "2,5,10"
    @Option(help: "Folder with the dataset's IDX files (default: the run's).") var dataDir: String?

    func neighbourCounts() throws -> [Int] {
        // empty items kept, so that "2,,5" is the typo it is rather than 2,5
        let ks = neighbours.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ks.isEmpty, ks.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--neighbours takes positive counts separated by commas, e.g. 2,5,10; got '\(neighbours)'")
        }
        return ks.map { $0! }
    }

    func validate() throws {
        if let limitTrain, limitTrain < 1 { throw ValidationError("--limit-train must be >= 1, got \(limitTrain)") }
        if let limitTest, limitTest < 1 { throw ValidationError("--limit-test must be >= 1, got \(limitTest)") }
        _ = try neighbourCounts()
    }

    func run() throws {
        let backend = try backendOptions.make()
        let started = Date()
        let (config, train, test) = try encodeRun(runDirectory, dataDirectory: dataDir, trainLimit: limitTrain, testLimit: limitTest,
                                                    needsLabels: true, on: backend)
        let encodeSeconds = Date().timeIntervalSince(started)
        var analysis = try LatentAnalysis(family: config.model.latent, train: train, test: test, neighbours: try neighbourCounts(),
                                          simplexSize: config.model.simplexSize, backend: backend)
        analysis.seconds["encode"] = encodeSeconds
        analysis.seconds["total"] = Date().timeIntervalSince(started)
        let path = RunDirectory(runDirectory).path + "/analysis.json"
        do {
            let data = try JSONSerialization.data(withJSONObject: analysis.json(run: runDirectory, backend: backend.name),
                                                  options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ToolError("cannot write \(path): \(error.localizedDescription)")
        }
        print(analysis.table)
        print(String(format: "wrote %@ (%.1f s in all on %@, encoding %.1f s)", path, analysis.seconds["total"]!, backend.name, encodeSeconds))
    }
}
