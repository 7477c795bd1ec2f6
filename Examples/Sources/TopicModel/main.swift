// A topic model from Swift: bag-of-words counts in, topics with their NPMI coherence out, through the same count recipe
// (ProdLDA's softmax-Gaussian latent, a linear decoder, batch norm faded out over half the epochs beside Scholar's
// background bias, KL warm-up over the first quarter of the epochs, dropout, a penalty that gives each word to few
// topics, and an encoder that reads log(1 + counts)) that `latentkit train --data` uses.
// Usage (repository root): swift run --package-path Examples topic-model COUNTS.npy VOCAB.txt [topics] [epochs]
// COUNTS.npy: N documents × V words (counts); VOCAB.txt: V words, one a line, in the columns' order.
import Foundation
import LatentKit

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: topic-model COUNTS.npy VOCAB.txt [topics] [epochs]\n".utf8))
    exit(2)
}
do {
    var config = RunConfig()
    config.data = DataFiles(train: arguments[0])  // 10% held out: the documents topics are scored on
    config.model.latentSize = arguments.count > 2 ? Int(arguments[2]) ?? 20 : 20
    let data = try config.loadData(trainLimit: nil, testLimit: nil)
    try config.model.fit(to: data.train, from: arguments[0])  // counts: the multinomial likelihood
    var given: Set<RecipeSetting> = []
    if arguments.count > 3, let epochs = Int(arguments[3]) {
        config.epochs = epochs
        given.insert(.epochs)
    }
    CountRecipe.apply(to: &config, keeping: given, documents: data.train.count)
    let vocabulary = try Topics.readVocabulary(arguments[1])

    let backend = try Backends.make(.auto)
    let trainer = try Trainer(config: config, backend: backend, train: data.train)
    _ = try trainer.train(run: nil, epochDone: { m in
        if m.epoch % 10 == 0 || m.epoch == config.epochs { print(String(format: "epoch %d: loss %.2f, KL %.2f", m.epoch, m.loss, m.kl)) }
    })
    trainer.model.training = false  // batch norm by its running statistics
    let report = try Topics.report(from: trainer.model, on: backend, vocabulary: vocabulary, top: 10, documents: data.test)
    for topic in report.topics {
        print(String(format: "topic %2d  NPMI %+.3f  ", topic.unit + 1, topic.coherence) + topic.words.map(\.word).joined(separator: " "))
    }
    print(String(format: "mean NPMI %.3f on %d held-out documents; diversity TD@25 %.3f; %d distinct topics",
                 report.meanCoherence, data.test.count, report.diversity, report.distinct))
} catch {
    FileHandle.standardError.write(Data("topic-model: \(error)\n".utf8))
    exit(1)
}
