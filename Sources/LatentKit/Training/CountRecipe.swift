// The default recipe for counts (bags of words, the multinomial likelihood): what `latentkit train --data COUNTS.npy`
// trains when no flag says otherwise. Topic models are the main real use of simplex latents, and MNIST's defaults
// (a Gaussian, a mirrored 200-200 decoder, batch 100, 10 epochs) give noisy topics on text; the recipe is ProdLDA's
// (Srivastava & Sutton 2017, arXiv:1703.01488, with the fixed-scale decoder batch norm of pyro-ppl PR #2794), and
// `--latent dirichlet` gets a Dirichlet recipe of its own. Both were chosen on a validation split of 20 Newsgroups
// (the last 10% of the training file), never on its test documents: docs/RESULTS.md#topic-models.

import Foundation

/// A setting a recipe chooses, named by the `latentkit train` flag that overrides it.
public enum RecipeSetting: String, CaseIterable, Sendable {
    case latent = "--latent", hidden = "--hidden", decoderHidden = "--decoder-hidden", activation = "--activation"
    case epochs = "--epochs", batchSize = "--batch-size", learningRate = "--learning-rate"
    case adamBeta1 = "--adam-beta1", adamBeta2 = "--adam-beta2"
    case decoderBatchNorm = "--decoder-batch-norm", encoderHeadBatchNorm = "--encoder-head-batch-norm"
    case decoderBatchNormEpsilon = "--decoder-batch-norm-epsilon", decoderBatchNormAnneal = "--decoder-batch-norm-anneal"
    case backgroundBias = "--background-bias"
    /// `--warmup-epochs` or `--warmup-steps`.
    case warmup = "--warmup-epochs"
    case dropout = "--dropout", latentDropout = "--latent-dropout"
    case priorConcentration = "--prior-concentration", dirichletApproximation = "--dirichlet-approx"
    case wordExclusivity = "--word-exclusivity", wordExclusivityWeighting = "--word-exclusivity-weighting"
    case encoderInput = "--encoder-input"
}

public enum CountRecipe {
    /// Above this many topics the recipe widens the encoder to 4 K units a layer and trains the Dirichlet longer.
    public static let manyTopics = 25

    /// λ of the word exclusivity penalty in the recipe, its words weighed by frequency: the Dirichlet's, and every other
    /// family's.
    public static let dirichletWordExclusivity: Float = 5, wordExclusivity: Float = 10

    /// The recipe's epochs are those of a corpus of at least this many documents (20 Newsgroups' validation fit has
    /// 10,133); a smaller one trains for proportionally more of them (``epochs(_:documents:)``), up to
    /// ``maxEpochScale`` times as many.
    public static let referenceDocuments = 10_000, maxEpochScale = 5

    /// `epochs` of the recipe for a corpus of `documents`: as many when it has at least ``referenceDocuments``, otherwise
    /// ⌈epochs × min(``maxEpochScale``, ``referenceDocuments`` / documents)⌉, so that a smaller corpus gets as many
    /// updates as the one the recipe was chosen on. 200 epochs of Reuters R52's 5,875 validation-fit documents (30 steps
    /// an epoch against 20 Newsgroups' 51) left the count recipe short of convergence: at K = 50 (seeds 1 and 2) 334
    /// epochs (about as many updates) lowered the validation bound from 570 to 521 (ProdLDA's 561) and raised TD@25 from 0.68 to 0.81 (ProdLDA's
    /// 0.74), at a cost in NPMI (0.053 to -0.178, ProdLDA's -0.342), and at K = 20 (seed 1) 304 epochs 501 to 471, 0.88 to
    /// 0.93, 0.14 to -0.03; on 20 Newsgroups, where the recipe keeps its epochs, 350 at K = 50 trade the same way (seed 1:
    /// bound 1013, TD@25 0.90, validation NPMI -0.08), so the epochs are where the rest of the recipe was chosen. The cap keeps a
    /// corpus of a few hundred documents (tests, planted examples) from training more than 1,750 epochs.
    public static func epochs(_ epochs: Int, documents: Int) -> Int {
        let scale = epochScale(documents: documents)
        guard scale > 1 else { return epochs }
        let scaled = (Double(epochs) * scale).rounded(.up)
        return scaled < Double(Int.max) ? Int(scaled) : Int.max
    }

    /// The factor ``epochs(_:documents:)`` scales the recipe's epochs by for a corpus of `documents`: 1 from
    /// ``referenceDocuments`` up (and for an empty count), min(``maxEpochScale``, ``referenceDocuments`` / documents) below.
    public static func epochScale(documents: Int) -> Double {
        guard documents > 0, documents < referenceDocuments else { return 1 }
        return min(Double(maxEpochScale), Double(referenceDocuments) / Double(documents))
    }

    /// Sets every setting of the recipe for `config`'s latent family (the softmax-Gaussian unless `--latent` was given;
    /// the Dirichlet's own for `--latent dirichlet`; the shared parts for any other family) except those in `given`.
    /// Does nothing unless the likelihood is the multinomial. The batch is at most the `documents` trained on, and fewer
    /// than ``referenceDocuments`` of them train more epochs (``epochs(_:documents:)``).
    public static func apply(to config: inout RunConfig, keeping given: Set<RecipeSetting>, documents: Int = .max) {
        guard config.model.likelihood == .multinomial else { return }
        func set<T>(_ setting: RecipeSetting, _ path: WritableKeyPath<RunConfig, T>, _ value: T) {
            if !given.contains(setting) { config[keyPath: path] = value }
        }
        set(.latent, \.model.latent, .softmaxGaussian)
        // ProdLDA's 100 units, widened to 4 K for more topics: at K = 50 on validation (two seeds) 200,200 kept 44 and 46
        // topics distinct against 39 and 33, TD@25 0.72 and 0.73 against 0.68 and 0.65, the bound 1050 and 1059 against
        // 1094 and 1111; at K = 20 it traded validation NPMI for diversity, so K ≤ 25 keeps 100
        let hasManyTopics = config.model.latentSize > Self.manyTopics
        // the Dirichlet above 25 topics trains longer and warms up over more of it (below)
        let dirichletWithManyTopics = config.model.latent == .dirichlet && hasManyTopics
        let width = hasManyTopics ? 4 * config.model.latentSize : 100
        set(.hidden, \.model.hidden, [width, width])
        set(.decoderHidden, \.model.decoderHidden, [])
        set(.activation, \.model.activation, .softplus)
        set(.batchSize, \.batchSize, max(1, min(200, documents)))
        set(.learningRate, \.learningRate, 2e-3)
        set(.adamBeta1, \.beta1, 0.99)
        set(.adamBeta2, \.beta2, 0.999)
        set(.decoderBatchNorm, \.model.decoderBatchNorm, true)
        // the Dirichlet's concentrations come through a softplus: batch-normalised pre-activations cap them near 3, a
        // posterior too wide to say much (validation: KL 3.2 nats, 2 distinct topics with it; 10.6 and 20 without)
        set(.encoderHeadBatchNorm, \.model.encoderHeadBatchNorm, config.model.latent != .dirichlet)
        set(.dropout, \.model.dropout, 0.2)
        // ProdLDA drops 20% of θ too; without it validation NPMI rose from -0.028 to 0.015 (TD@25 0.81 to 0.83)
        set(.latentDropout, \.model.latentDropout, 0)
        // the Dirichlet needs longer for more topics: at K = 50 on validation (seeds 1 and 2) 300 epochs kept 48 and 50 topics
        // distinct against 43 and 44 at 200, TD@25 0.770 and 0.768 against 0.705 and 0.720, the bound 841 and 856 against
        // 903 and 897 (400: TD@25 0.770 again). Its units fall unused early (31 of 50 at epoch 10) and come back while the
        // KL warms up and the decoder's batch norm fades, both of which scale with the epochs. At K = 20 every topic is
        // distinct at 200 already, and 300 traded NPMI on the training documents (0.329 against 0.354) for the bound.
        // 350, 400 against 300 at K = 50 (seeds 1 to 6, a third of each warm-up), means: every topic distinct on all six,
        // all six, five (seed 6 kept two Israel topics sharing 6 of their top 10 words); NPMI on the training documents
        // 0.336, 0.321, 0.339 and on validation -0.044, -0.075, -0.032 (the count recipe's 0.337 and -0.039: 400 falls
        // 0.036 below it there, outside issue 21's 0.03); TD@25 0.757, 0.763, 0.769; the bound 833, 822, 844
        set(.epochs, \.epochs, epochs(dirichletWithManyTopics ? 350 : 200, documents: documents))
        // Scholar's decoder (Card et al. 2018): the corpus's log word frequencies as a fixed bias, and the decoder's batch
        // norm faded out over the first half of the epochs. Batch norm spreads the early topics over the vocabulary; without
        // it at the end, each topic's weights are its words' log-lift over the background, what `topics` ranks by. On
        // validation (K = 20, seeds 1 and 2): NPMI on the training documents 0.370 and 0.376 against 0.309 and 0.325,
        // TD@25 0.94 and 0.93 against 0.87 and 0.85; the perplexity bound 1,000 against 944 and 962
        set(.backgroundBias, \.model.backgroundBias, true)
        if config.model.decoderBatchNorm { set(.decoderBatchNormAnneal, \.model.decoderBatchNormAnnealEpochs, max(1, config.epochs / 2)) }
        // KL warm-up over the first quarter of the epochs (as Burkhardt & Kramer 2019 do for Dirichlet topic models): with
        // the KL weighted down early, documents' posteriors spread apart before the prior pulls them in, and fewer topics
        // end up near-duplicates. On validation (seed 1, then 2), against the 5 epochs the Dirichlet had and none:
        // softmax-Gaussian K = 50: TD@25 0.770 and 0.758 against 0.715 and 0.727, every topic distinct on seed 1, the bound
        // 1044 and 1035 against 1050 and 1059; K = 20: TD@25 0.976 against 0.936, bound 966 against 1001, NPMI level.
        // Dirichlet K = 50: 43 distinct topics against 33, TD@25 0.705 against 0.567. The Dirichlet above 25 topics warms up
        // over a third (100 of 300 epochs then, 116 of 350 now): on validation (seeds 1, 2, 3) every topic distinct on all
        // three against 48, 50 and 50 with 75 of 300, TD@25 0.766 against 0.772, the bound 844 against 847, NPMI level
        set(.warmup, \.warmupEpochs, max(1, config.epochs / (dirichletWithManyTopics ? 3 : 4)))
        // each word given to few topics (``WordExclusivity``), the words weighed by their frequency in the corpus: the plain
        // decoder splits a large class of documents into sub-topics that share their top words (six hardware topics with
        // "drive disk scsi" at K = 50, two dividend topics at K = 20 on Reuters). On validation (means of two seeds; NPMI
        // on validation, then on the training documents, TD@25, the bound), the softmax-Gaussian:
        //   K = 20, λ = 0 / 5 / 10 / 15 / 30: 0.024 / 0.079 / 0.122 / 0.108 / 0.087; 0.350 / 0.364 / 0.376 / 0.352 / 0.330;
        //     0.955 / 0.983 / 0.996 / 0.998 / 0.999; 985 / 988 / 996 / 1010 / 1043
        //   K = 50, λ = 0 / 10 / 20 / 30: -0.031 / 0.019 / 0.012 / 0.030; 0.337 / 0.330 / 0.305 / 0.297; 0.751 / 0.846 /
        //     0.911 / 0.924; 1042 / 1060 / 1102 / 1128 (ProdLDA: -0.21, 0.25, 0.80, 1110)
        // so λ = 10 at any K. Weighing the words alike (the recipe's first form, λ = 7 above 25 topics) bought the same
        // TD@25 at K = 50 (0.855) for validation NPMI -0.129, and cost NPMI at K = 20. The Dirichlet, λ = 0 / 5 / 10:
        //   K = 20: -0.004 / 0.083 / 0.035; 0.330 / 0.334 / 0.296; 0.906 / 0.973 / 0.991; 879 / 864 / 868
        //   K = 50: -0.063 / -0.048 / -0.057; 0.343 / 0.311 / 0.316; 0.759 / 0.888 / 0.923; 838 / 821 / 829
        // so λ = 5, every topic distinct at each. Where the model has no topics of a linear decoder there is nothing to
        // penalise
        let lambda = config.model.latent == .dirichlet ? Self.dirichletWordExclusivity : Self.wordExclusivity
        set(.wordExclusivity, \.model.wordExclusivity, config.model.hasTopicWeights && config.model.latentSize >= 2 ? lambda : 0)
        set(.wordExclusivityWeighting, \.model.wordExclusivityWeighting, .frequency)
        // the encoder reads log(1 + counts): with raw counts (ProdLDA's) a test document 40 times longer than most (3,153
        // tokens) drove one K = 20 model's posterior to a KL of 16.7 million nats and its test bound to infinity. On
        // validation against raw counts (the recipe above; NPMI on validation and on the training documents, TD@25, the
        // bound, means of two seeds), the softmax-Gaussian at K = 20: 0.039 / 0.337 / 0.995 / 975 against 0.122 / 0.376 /
        // 0.996 / 996; K = 50: 0.025 / 0.325 / 0.850 / 1037 against 0.019 / 0.330 / 0.846 / 1060; the Dirichlet at K = 20:
        // 0.083 / 0.355 / 0.988 / 854 against 0.083 / 0.334 / 0.973 / 864; K = 50: -0.064 / 0.316 / 0.891 / 812 against
        // -0.048 / 0.311 / 0.888 / 821. A lower bound everywhere, NPMI level but for the count recipe at K = 20
        set(.encoderInput, \.model.encoderInput, .logCounts)
        if config.model.latent == .dirichlet {
            // the exact sampler (Gamma variates, implicit gradients) against the Laplace one, on validation at 100 epochs:
            // TD@25 0.85 and 20 distinct topics against 0.82 and 20, perplexity bound 832 against 880
            set(.dirichletApproximation, \.model.dirichletApproximation, .exact)
            // a sparse prior: α = 0.5 against 1, validation NPMI -0.029 against -0.081, TD@25 0.83 against 0.85, KL 8.6
            // nats (no collapse), 20 distinct topics either way
            set(.priorConcentration, \.model.priorConcentration, 0.5)
        }
    }
}
