/// How to train an encoder–decoder; stored in `config.json`.
public struct Seq2SeqTrainingOptions: Codable, Equatable, Sendable, StepTrainingOptions {
    /// Passes over the training pairs (ignored when `steps` is set).
    public var epochs: Int = 10
    /// A budget of optimizer steps instead of epochs.
    public var steps: Int?
    /// Pairs per step.
    public var batchSize: Int = 64
    public var optimizer = OptimizerConfiguration(kind: .adam, learningRate: 1e-3)
    public var clipNorm: Double? = 5
    public var seed: UInt64 = 0
    /// Also evaluate and save every this many steps.
    public var evaluateEvery: Int?
    public var skipNonFiniteSteps: Bool?
    public var warmupSteps: Int?
    /// ε of the training loss's label smoothing (0: plain cross-entropy).
    public var labelSmoothing: Double = 0
    /// The longest output decoded (validation, test, `translate`), in tokens; nil: twice the
    /// longest training target, plus 10.
    public var maxLength: Int?

    public init() {}

    public func validate() throws(RNNKitError) {
        try requirePositive(epochs, "epochs")
        if let steps { try requirePositive(steps, "steps") }
        try requirePositive(batchSize, "batch")
        try optimizer.validate()
        if let warmupSteps { try requirePositive(warmupSteps, "warmup") }
        if let evaluateEvery { try requirePositive(evaluateEvery, "eval-every") }
        if let maxLength { try requirePositive(maxLength, "max-length") }
        if let clipNorm, !(clipNorm > 0) {
            throw .invalidValue(argument: "clip", expected: "a positive norm", found: "\(clipNorm)", hint: "Try --clip 5.")
        }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else {
            throw .invalidValue(argument: "label-smoothing", expected: "ε in [0, 1)", found: "\(labelSmoothing)", hint: "0.1 is usual.")
        }
    }
}

/// Where an encoder–decoder's pairs came from and how they were split; kept in `config.json` so
/// that `--resume` reads and splits them again exactly.
public struct Seq2SeqDataSource: Codable, Equatable, Sendable {
    /// The preset whose data these are (nil: a user's `--pairs` file).
    public var preset: Seq2SeqPreset?
    /// The training pairs (a pairs file, or the preset's dictionary or poems); nil for generated data.
    public var pairs: String?
    /// A separate test file, in the pairs format.
    public var test: String?
    public var sourceTokens: TokenUnit
    public var targetTokens: TokenUnit
    /// Distinct sources held out for validation: a fraction of them when below 1, else a count.
    public var validation: Double
    /// Distinct sources held out for testing when there is no test file (same reading; 0: none).
    public var heldOutTest: Double
    /// The seed of the split (and of generated problems).
    public var splitSeed: UInt64
    /// g2p: whether the phones keep their stress digits.
    public var stress: Bool?
    /// addition: how many problems and the operands' digits.
    public var problems: Int?
    public var digits: Int?

    public init(preset: Seq2SeqPreset? = nil, pairs: String?, test: String? = nil, sourceTokens: TokenUnit, targetTokens: TokenUnit,
                validation: Double, heldOutTest: Double = 0, splitSeed: UInt64) {
        self.preset = preset
        self.pairs = pairs
        self.test = test
        self.sourceTokens = sourceTokens
        self.targetTokens = targetTokens
        self.validation = validation
        self.heldOutTest = heldOutTest
        self.splitSeed = splitSeed
    }

    /// Reads (or generates) the pairs and splits them by distinct source: training, validation, and
    /// the test pairs (the test file's, the held-out ones, or none).
    public func load() throws(DataError) -> (train: SequencePairs, validation: SequencePairs, test: SequencePairs?) {
        let all: SequencePairs
        switch preset {
        case .g2p?: all = Lexicon.pairs(try Lexicon.read(path: pairs ?? Lexicon.festivalCMU), stress: stress ?? true)
        case .couplets?: all = try Couplets.read(path: pairs ?? Couplets.tangPoems)
        case .addition?: all = AdditionProblems.generate(count: problems ?? 50_000, digits: digits ?? 3, seed: splitSeed)
        case nil:
            guard let pairs else {
                throw .malformed(path: "config.json", problem: "no pairs file", expected: "data.pairs", found: "none",
                                 hint: "Give --pairs FILE.")
            }
            all = try PairsFile.read(path: pairs, source: sourceTokens, target: targetTokens)
        }
        let distinct = Set(all.sources).count
        func count(_ share: Double) -> Int { share < 1 ? Int((share * Double(distinct)).rounded()) : Int(share) }
        let v = count(validation), t = test == nil ? count(heldOutTest) : 0
        guard v + t < distinct else {
            throw .malformed(path: pairs ?? "the generated problems", problem: "too few distinct sources to hold out \(v + t)",
                             expected: "more than \(v + t) distinct sources", found: "\(distinct)",
                             hint: "Hold out fewer with --validation (a fraction below 1, or a count).")
        }
        let parts = all.split(validation: v, test: t, seed: splitSeed)
        let testPairs = try test.map { path throws(DataError) in try PairsFile.read(path: path, source: sourceTokens, target: targetTokens) }
        return (parts.train, parts.validation, testPairs ?? (t > 0 ? parts.test : nil))
    }
}

/// Ready-made encoder–decoder tasks: their data, model and training settings.
public enum Seq2SeqPreset: String, Codable, CaseIterable, Sendable {
    /// Spelling → pronunciation on Debian's festlex-cmu dictionary (Festival format, stress kept):
    /// embedding 64, bidirectional LSTM 128 (decoder 256), Luong attention with input feeding,
    /// dropout 0.2, batch 64, Adam 2e-3, 10 epochs; 2,000 words held out for validation and 10,000
    /// for the test.
    case g2p
    /// The first line of a Tang couplet → the second (Debian's fortunes-zh): embedding 64,
    /// bidirectional LSTM 128, dropout 0.5, batch 32, Adam 1e-3, 8 epochs; 100 couplets for
    /// validation and 150 for the test. (1,278 training couplets over about 1,900 characters:
    /// validation loss is lowest after 3–5 epochs, and the model learns little beyond which
    /// characters are common.)
    case couplets
    /// Keras's addition_rnn: 50,000 seeded problems "535+61" → "596" with 1–3 digit operands:
    /// embedding 16, bidirectional LSTM 64, batch 64, Adam 5e-3, 10 epochs; 2,500 for validation and
    /// 2,500 for the test.
    case addition

    /// The Debian package that holds the preset's data (nil: generated).
    public var package: String? {
        switch self {
        case .g2p: "festlex-cmu"
        case .couplets: "fortunes-zh"
        case .addition: nil
        }
    }

    /// The data source and training settings; the model's vocabularies are filled in from the data.
    public func settings(seed: UInt64) -> (data: Seq2SeqDataSource, model: Seq2SeqConfiguration, training: Seq2SeqTrainingOptions) {
        var t = Seq2SeqTrainingOptions()
        t.seed = seed
        var m = Seq2SeqConfiguration(sourceVocabulary: 1, targetVocabulary: 1)
        var d: Seq2SeqDataSource
        switch self {
        case .g2p:
            d = Seq2SeqDataSource(preset: self, pairs: Lexicon.festivalCMU, sourceTokens: .chars, targetTokens: .words,
                                  validation: 2000, heldOutTest: 10000, splitSeed: seed)
            d.stress = true
            m.embedding = 64
            m.hidden = 128
            m.dropout = 0.2
            t.optimizer.learningRate = 2e-3
            t.epochs = 10
        case .couplets:
            d = Seq2SeqDataSource(preset: self, pairs: Couplets.tangPoems, sourceTokens: .chars, targetTokens: .chars,
                                  validation: 100, heldOutTest: 150, splitSeed: seed)
            m.embedding = 64
            m.hidden = 128
            m.dropout = 0.5
            t.batchSize = 32
            t.optimizer.learningRate = 1e-3
            t.epochs = 8
        case .addition:
            d = Seq2SeqDataSource(preset: self, pairs: nil, sourceTokens: .chars, targetTokens: .chars,
                                  validation: 2500, heldOutTest: 2500, splitSeed: seed)
            d.problems = 50_000
            d.digits = 3
            m.embedding = 16
            m.hidden = 64
            t.optimizer.learningRate = 5e-3
            t.epochs = 10
        }
        return (d, m, t)
    }
}
