/// Pairs as token ids for a `Seq2SeqModel`, with each distinct source's references for scoring.
public struct Seq2SeqData: Sendable {
    public var sources: [[Int]]
    public var targets: [[Int]]

    /// `pairs` through the two vocabularies; `place(i)` names pair i in an error (`"line 7 of FILE"`).
    public init(_ pairs: SequencePairs, source: TokenVocabulary, target: TokenVocabulary,
                place: (Int) -> String = { "pair \($0 + 1)" }) throws(RNNKitError) {
        sources = []
        targets = []
        for i in 0..<pairs.count {
            sources.append(try source.encode(pairs.sources[i], place: place(i), argument: "source"))
            targets.append(try target.encode(pairs.targets[i], place: place(i), argument: "target"))
        }
    }

    public var count: Int { sources.count }

    /// Each distinct source once with all its targets (the references an output is scored against).
    public func references() -> (sources: [[Int]], references: [[[Int]]]) { groupReferences(sources, targets) }
}

/// Decodes `sources` greedily (or with a beam) in batches and scores the outputs against their
/// references: sequence and token error rates, and BLEU-4 when `bleu`.
public func evaluateSeq2Seq(_ model: Seq2SeqModel<Float>, sources: [[Int]], references: [[[Int]]], beam: Int = 1,
                            maxLength: Int, bleu: Bool, batchSize: Int = 128) throws(RNNKitError) -> (scores: SequenceScores, outputs: [[Int]]) {
    var outputs: [[Int]] = []
    var start = 0
    while start < sources.count {
        let part = Array(sources[start..<min(start + batchSize, sources.count)])
        let decoded = beam == 1 ? try model.greedy(part, maxLength: maxLength) : try model.beamSearch(part, beam: beam, maxLength: maxLength)
        outputs += decoded.map(\.tokens)
        start += batchSize
    }
    let strings = { (ids: [Int]) in ids.map(String.init) }
    return (SequenceScores(outputs: outputs.map(strings), references: references.map { $0.map(strings) }, bleu: bleu), outputs)
}

/// The teacher-forced cross-entropy of `pairs` of `data` (all of them by default), summed over their
/// target tokens (end tokens included), and that number of tokens; no dropout.
public func teacherForcedLossSum(_ model: Seq2SeqModel<Float>, _ data: Seq2SeqData, pairs: Range<Int>? = nil,
                                 batchSize: Int = 256) throws(RNNKitError) -> (sum: Double, tokens: Int) {
    let range = pairs ?? 0..<data.count
    var sum = 0.0, tokens = 0
    var none: SeededGenerator? = nil
    var start = range.lowerBound
    while start < range.upperBound {
        let end = min(start + batchSize, range.upperBound)
        let (loss, n) = try model.teacherForcedLoss(sources: Array(data.sources[start..<end]), targets: Array(data.targets[start..<end]),
                                                    training: &none)
        sum += Double(loss.value.scalars[0]) * Double(n)
        tokens += n
        start = end
    }
    return (sum, tokens)
}

/// Trains a `Seq2SeqModel` with teacher forcing: minibatches of pairs in a seeded order, the loss
/// the mean cross-entropy over real target tokens (each rank of a distributed run weighting its
/// share by its tokens), and on validation the teacher-forced loss and greedy decoding's sequence
/// and token error rates.
public final class Seq2SeqTask: TrainingTask {
    public let model: Seq2SeqModel<Float>
    public let train: Seq2SeqData
    public let validation: Seq2SeqData
    public let batchSize: Int
    /// The longest output decoded on validation.
    public let maxLength: Int
    /// ε of the training loss (validation reports the plain cross-entropy).
    public let labelSmoothing: Double
    private var order: [Int] = []

    public init(model: Seq2SeqModel<Float>, train: Seq2SeqData, validation: Seq2SeqData, batchSize: Int, maxLength: Int,
                labelSmoothing: Double = 0) throws(RNNKitError) {
        guard labelSmoothing >= 0 && labelSmoothing < 1 else {
            throw .invalidValue(argument: "label-smoothing", expected: "ε in [0, 1)", found: "\(labelSmoothing)", hint: "0.1 is usual.")
        }
        self.labelSmoothing = labelSmoothing
        try requirePositive(batchSize, "batch")
        try requirePositive(maxLength, "max-length")
        guard train.count > 0 else {
            throw .invalidValue(argument: "pairs", expected: "at least one training pair", found: "none", hint: "Give more pairs.")
        }
        self.model = model
        self.train = train
        self.validation = validation
        self.batchSize = batchSize
        self.maxLength = maxLength
    }

    public var parameters: [(name: String, variable: Variable<Float>)] { model.namedParameters }
    public var examplesPerEpoch: Int { train.count }
    public func steps(forExamples examples: Int) -> Int { (examples + batchSize - 1) / batchSize }
    public func beginEpoch(shuffling generator: inout SeededGenerator) { order = generator.permutation(train.count) }

    public func trainingBatch(step: Int, limit: Int, group: ProcessGroup, generator: inout SeededGenerator) throws -> TrainingBatch? {
        let rows = Array(group.share((step * batchSize)..<min((step + 1) * batchSize, limit)).map { order[$0] })
        guard !rows.isEmpty else { return nil }
        var g: SeededGenerator? = generator
        let (loss, tokens) = try model.teacherForcedLoss(sources: rows.map { train.sources[$0] }, targets: rows.map { train.targets[$0] },
                                                         labelSmoothing: labelSmoothing, training: &g)
        generator = g!
        return TrainingBatch(loss: loss, count: rows.count, lossWeight: Double(tokens))
    }

    public func validate(group: ProcessGroup) throws -> (loss: Double, figures: [String: Double])? {
        guard validation.count > 0 else { return nil }
        // The teacher-forced loss over this rank's block of pairs, summed over the ranks.
        let (lossSum, tokens) = try teacherForcedLossSum(model, validation, pairs: group.block(validation.count))
        // Greedy decoding of this rank's block of distinct sources, scored, and the sums added up.
        let (sources, references) = validation.references()
        let mine = group.block(sources.count)
        let scored = try evaluateSeq2Seq(model, sources: Array(sources[mine]), references: Array(references[mine]), maxLength: maxLength,
                                         bleu: false).scores
        var sums = [lossSum, Double(tokens), scored.sequenceErrorRate * Double(scored.count), Double(scored.count),
                    scored.tokenErrorRate * Double(scored.referenceTokens), Double(scored.referenceTokens)]
        group.sum(&sums)
        return (sums[0] / max(sums[1], 1), ["validationSequenceErrorRate": sums[2] / max(sums[3], 1),
                                            "validationTokenErrorRate": sums[4] / max(sums[5], 1)])
    }

    public var figures: [ReportedFigure] {
        [ReportedFigure(key: "SequenceErrorRate", label: "SER", name: "validation sequence error rate", isPercentage: true),
         ReportedFigure(key: "TokenErrorRate", label: "TER", name: "token error rate", isPercentage: true)]
    }

    public func dataFingerprint() -> UInt64 {
        var f = Fingerprint()
        for s in train.sources { f.add(s); f.add(CollectionOfOne(-1)) }
        for t in train.targets { f.add(t); f.add(CollectionOfOne(-2)) }
        f.add(CollectionOfOne(validation.count))
        return f.value
    }
}
