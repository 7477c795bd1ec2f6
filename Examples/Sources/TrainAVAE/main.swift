// Train a Dirichlet VAE from Swift, evaluate it and save a checkpoint that `latentkit eval` reads: the library under
// `latentkit train` and `eval`. Data: MNIST (data/mnist, from scripts/setup.sh), or your N × D .npy file.
// Usage (repository root): swift run --package-path Examples train-a-vae [epochs] [data.npy]
import LatentKit

let arguments = Array(CommandLine.arguments.dropFirst())
var config = RunConfig()
config.epochs = arguments.first.flatMap(Int.init) ?? 1
config.model.latent = .dirichlet        // or .gaussian, .logitNormal, .concrete, .dvae
config.model.latentSize = 20
config.warmupEpochs = RunConfig.defaultWarmupEpochs(for: .dirichlet)  // 5 epochs of KL warm-up: no collapse
let data: Dataset
if arguments.count > 1 {                // your data: 10% held out for testing, the likelihood from its values
    config.data = DataFiles(train: arguments[1])
    data = try config.loadData(trainLimit: nil, testLimit: nil)
    try config.model.fit(to: data.train, from: arguments[1])
} else {
    config.trainLimit = 10_000
    data = try config.loadData(trainLimit: config.trainLimit, testLimit: 1_000)
}

let backend = try Backends.make(.auto)  // an OpenCL GPU if there is one, else the CPU
let trainer = try Trainer(config: config, backend: backend, train: data.train)
let run = RunDirectory("runs/swift-api-example")
try run.create()
try config.save(to: run.config)
_ = try trainer.train(
    run: run,
    progress: { p in if p.step % 50 == 0 { print("epoch \(p.epoch), step \(p.step) of \(p.steps): loss \(p.loss)") } },
    epochDone: { m in print("epoch \(m.epoch): loss \(m.loss), KL \(m.kl), \(Int(m.imagesPerSecond)) images/s") })

trainer.model.training = false
let result = try Evaluator(model: trainer.model, backend: backend).evaluate(data.test, k: 100, limit: 500)
print("test -ELBO \(result.negativeELBO), NLL \(result.negativeLogLikelihood ?? .nan) (k = 100, \(result.images) items)")
try trainer.saveCheckpoint(to: run)
print("saved \(run.checkpoint): latentkit eval \(run.path) reads it")
