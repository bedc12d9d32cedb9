import Foundation
import RNNKit
import Testing

/// The encoder–decoder with attention: finite differences in Double through the whole model
/// (embeddings, encoder, bridge, input feeding, attention, output) with padded sources and targets
/// on odd sizes, and padding that never changes a sample's loss.
@Suite struct Seq2SeqModelTests {
    struct Variant: CustomTestStringConvertible, Sendable {
        var attention: AttentionKind, cell: RecurrentCell, layers: Int, bidirectional: Bool, feeding: Bool
        var testDescription: String { "\(attention) \(cell) L=\(layers)\(bidirectional ? " bi" : "")\(feeding ? " feeding" : "")" }
    }

    static let variants = [
        Variant(attention: .luong, cell: .lstm, layers: 1, bidirectional: true, feeding: true),
        Variant(attention: .bahdanau, cell: .lstm, layers: 1, bidirectional: true, feeding: true),
        Variant(attention: .bahdanau, cell: .gru, layers: 2, bidirectional: false, feeding: false),
        Variant(attention: .luong, cell: .gru, layers: 2, bidirectional: true, feeding: true),
        Variant(attention: .none, cell: .lstm, layers: 2, bidirectional: true, feeding: true),
    ]

    static func model(_ v: Variant, seed: UInt64 = 1) throws -> Seq2SeqModel<Double> {
        var c = Seq2SeqConfiguration(sourceVocabulary: 7, targetVocabulary: 6)
        c.embedding = 3
        c.hidden = 2
        c.cell = v.cell
        c.layers = v.layers
        c.bidirectional = v.bidirectional
        c.attention = v.attention
        c.inputFeeding = v.feeding
        var g = SeededGenerator(seed: seed)
        let model = try Seq2SeqModel<Double>(c, generator: &g)
        // Larger weights than the default initialisation, so every path carries a gradient worth checking.
        for (_, p) in model.namedParameters {
            p.value = try Tensor(shape: p.value.shape, scalars: p.value.scalars.map { $0 * 2.5 })
        }
        return model
    }

    // Ids ≥ 3 (0–2 are padding, start and end); lengths 5, 2, 1 and 3, 1, 4.
    static let sources = [[3, 4, 5, 6, 3], [6, 4], [5]]
    static let targets = [[3, 4, 5], [5], [4, 3, 5, 3]]

    @Test(arguments: variants) func wholeModelGradients(_ v: Variant) throws {
        let model = try Self.model(v)
        var none: SeededGenerator? = nil
        let report = try checkGradients(model.namedParameters) {
            try model.teacherForcedLoss(sources: Self.sources, targets: Self.targets, training: &none).loss
        }
        #expect(report.worstRelativeError < 1e-6, "\(report)")
        #expect(report.checked == model.namedParameters.map { $0.variable.value.count }.reduce(0, +))
        var names = Set(model.namedParameters.map(\.name))
        #expect(names.count == model.namedParameters.count, "names are unique")
        names = names.filter { $0.hasPrefix("attention") }
        #expect(names.isEmpty == (v.attention == .none))
    }

    /// The batch's loss is the token-weighted mean of each sample's alone: padding of sources and
    /// targets changes nothing.
    @Test(arguments: variants) func paddingNeverChangesASamplesLoss(_ v: Variant) throws {
        let model = try Self.model(v, seed: 2)
        var none: SeededGenerator? = nil
        let batch = try model.teacherForcedLoss(sources: Self.sources, targets: Self.targets, training: &none)
        #expect(batch.tokens == Self.targets.map { $0.count + 1 }.reduce(0, +))
        var sum = 0.0
        for b in Self.sources.indices {
            let alone = try model.teacherForcedLoss(sources: [Self.sources[b]], targets: [Self.targets[b]], training: &none)
            sum += alone.loss.value.scalars[0] * Double(alone.tokens)
        }
        #expect(abs(batch.loss.value.scalars[0] - sum / Double(batch.tokens)) < 1e-12)
    }

    /// Teacher forcing is the step API fed the target tokens: the same logits, step by step.
    @Test func teacherForcingEqualsTheStepAPIFedTheSameTokens() throws {
        let model = try Self.model(Self.variants[1], seed: 3)
        var none: SeededGenerator? = nil
        let encoded = try model.encode(Self.sources, generator: &none)
        var state = encoded.state, feed: Variable<Double>? = nil
        var loss = 0.0, tokens = 0
        for t in 0...4 {
            let previous = Self.targets.map { t == 0 ? TokenVocabulary.start : (t - 1 < $0.count ? $0[t - 1] : TokenVocabulary.padding) }
            let step = try model.decodeStep(previous, feed: feed, state: state, encoded: encoded, generator: &none)
            (state, feed) = (step.state, step.feed)
            let logits = step.logits.value.scalars, V = 6
            for (b, target) in Self.targets.enumerated() where t <= target.count {
                let y = t < target.count ? target[t] : TokenVocabulary.end
                let row = Array(logits[(b * V)..<((b + 1) * V)]), top = row.max()!
                loss += -(row[y] - top - Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +)))
                tokens += 1
            }
            if let w = step.weights {
                for (b, length) in encoded.lengths.enumerated() {
                    #expect(w.value.scalars[(b * 5 + length)..<((b + 1) * 5)].allSatisfy { $0 == 0 }, "attention past the source")
                }
            }
        }
        let forced = try model.teacherForcedLoss(sources: Self.sources, targets: Self.targets, training: &none)
        #expect(tokens == forced.tokens)
        #expect(abs(loss / Double(tokens) - forced.loss.value.scalars[0]) < 1e-12)
    }
}

/// Greedy and beam decoding: beam 1 is greedy, a batch decodes as its sources one at a time, and
/// a beam wide enough to keep every hypothesis finds the best one by GNMT's score.
@Suite struct Seq2SeqDecodingTests {
    static func model(_ attention: AttentionKind, targetVocabulary: Int = 9, seed: UInt64 = 4) throws -> Seq2SeqModel<Double> {
        var c = Seq2SeqConfiguration(sourceVocabulary: 8, targetVocabulary: targetVocabulary)
        c.embedding = 5
        c.hidden = 4
        c.attention = attention
        var g = SeededGenerator(seed: seed)
        let model = try Seq2SeqModel<Double>(c, generator: &g)
        for (_, p) in model.namedParameters { p.value = try Tensor(shape: p.value.shape, scalars: p.value.scalars.map { $0 * 3 }) }
        return model
    }

    static let sources = [[3, 4, 5, 6, 7], [7, 4], [5], [6, 6, 3]]

    @Test(arguments: AttentionKind.allCases) func beamOneIsGreedyAndBatchesDecodeAsSingles(_ attention: AttentionKind) throws {
        let model = try Self.model(attention)
        let greedy = try model.greedy(Self.sources, maxLength: 7)
        let beamOne = try model.beamSearch(Self.sources, beam: 1, lengthPenalty: 0, maxLength: 7)
        #expect(greedy.map(\.tokens) == beamOne.map(\.tokens))
        #expect(greedy.map(\.finished) == beamOne.map(\.finished))
        for (a, b) in zip(greedy, beamOne) {
            #expect(abs(a.logProbability - b.logProbability) < 1e-9)
            #expect(a.attention == b.attention)
        }
        #expect(greedy.contains { !$0.tokens.isEmpty }, "a model that only ends tests nothing")
        for (b, source) in Self.sources.enumerated() {
            let alone = try model.greedy([source], maxLength: 7)[0]
            #expect(alone.tokens == greedy[b].tokens)
            #expect(abs(alone.logProbability - greedy[b].logProbability) < 1e-12)
            let beam = try model.beamSearch([source], beam: 3, maxLength: 7)[0]
            let batched = try model.beamSearch(Self.sources, beam: 3, maxLength: 7)[b]
            #expect(beam.tokens == batched.tokens && abs(beam.logProbability - batched.logProbability) < 1e-12)
            if attention != .none {
                #expect(greedy[b].attention.count == greedy[b].tokens.count + (greedy[b].finished ? 1 : 0))
                #expect(greedy[b].attention.allSatisfy { $0.count == source.count && abs($0.reduce(0, +) - 1) < 1e-12 })
            }
        }
    }

    /// Every hypothesis of up to 3 tokens over a 2-token vocabulary, scored by the step API, against
    /// a beam of 8 (which keeps them all).
    @Test(arguments: [0.0, 0.6, 2.0]) func wideBeamFindsTheBestHypothesis(alpha: Double) throws {
        let model = try Self.model(.bahdanau, targetVocabulary: 5, seed: 6)
        var none: SeededGenerator? = nil
        for source in Self.sources {
            func logP(_ tokens: [Int], ended: Bool) throws -> Double {
                let encoded = try model.encode([source], generator: &none)
                var state = encoded.state, feed: Variable<Double>? = nil, total = 0.0
                let fed = [TokenVocabulary.start] + tokens, wanted = tokens + (ended ? [TokenVocabulary.end] : [])
                for (t, y) in wanted.enumerated() {
                    let out = try model.decodeStep([fed[t]], feed: feed, state: state, encoded: encoded, generator: &none)
                    (state, feed) = (out.state, out.feed)
                    let row = out.logits.value.scalars, top = row.max()!
                    total += row[y] - top - Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +))
                }
                return total
            }
            var best = (score: -Double.infinity, tokens: [Int]())
            var prefixes: [[Int]] = [[]]
            for length in 0...3 {
                for p in prefixes {
                    let ended = length < 3
                    let lp = alpha == 0 ? 1 : Foundation.pow((5 + Double(length + (ended ? 1 : 0))) / 6, alpha)
                    let score = try logP(p, ended: ended) / lp
                    if score > best.score { best = (score, p) }
                }
                prefixes = prefixes.flatMap { [$0 + [3], $0 + [4]] }
            }
            let found = try model.beamSearch([source], beam: 8, lengthPenalty: alpha, maxLength: 3)[0]
            #expect(found.tokens == best.tokens, "source \(source), α \(alpha)")
        }
    }
}

/// The whole path: pairs → vocabularies → the task on the shared training loop → greedy decoding.
@Suite struct Seq2SeqTrainingTests {
    /// Every sum of two digits (55 pairs): the model must learn them all exactly.
    @Test(arguments: [AttentionKind.luong, .bahdanau]) func learnsSingleDigitAddition(_ attention: AttentionKind) throws {
        let pairs = AdditionProblems.generate(count: 100, digits: 1, seed: 1)
        #expect(pairs.count == 55)
        let source = TokenVocabulary(sequences: pairs.sources), target = TokenVocabulary(sequences: pairs.targets)
        let data = try Seq2SeqData(pairs, source: source, target: target)
        var c = Seq2SeqConfiguration(sourceVocabulary: source.count, targetVocabulary: target.count)
        c.embedding = 16
        c.hidden = 24
        c.attention = attention
        var g = SeededGenerator(seed: 2)
        let task = try Seq2SeqTask(model: Seq2SeqModel<Float>(c, generator: &g), train: data, validation: data, batchSize: 11, maxLength: 4)
        var schedule = TrainingSchedule(epochs: 80, optimizer: OptimizerConfiguration(kind: .adam, learningRate: 0.01), clipNorm: 5, seed: 3)
        schedule.evaluateEvery = 200
        let trainer = try Trainer(task: task, schedule: schedule)
        var last: TrainingMetrics?
        while !trainer.isFinished { last = try trainer.runUntilEvaluation() ?? last }
        let m = try #require(last)
        #expect(m["validationSequenceErrorRate"] == 0, "\(m)")
        let (sources, references) = data.references()
        let (scores, outputs) = try evaluateSeq2Seq(task.model, sources: sources, references: references, beam: 3, maxLength: 4, bleu: false)
        #expect(scores.sequenceErrorRate == 0 && scores.tokenErrorRate == 0)
        let sample = pairs.sources.firstIndex { $0.joined() == "7+8" }!
        #expect(target.decode(outputs[sources.firstIndex(of: data.sources[sample])!]).joined() == "15")
    }
}

/// Label smoothing: PyTorch's `CrossEntropyLoss(label_smoothing=ε)` target `(1 − ε)·onehot + ε/V`.
@Suite struct LabelSmoothingTests {
    @Test func sequenceLossWithLabelSmoothingIsTheSmoothedCrossEntropy() throws {
        var g = SeededGenerator(seed: 11)
        let (B, T, V) = (2, 3, 5)
        let logits = Variable(try randomTensor([B, T, V], &g, low: -2.0, high: 2.0) as Tensor<Double>, requiresGrad: true)
        let targets = [0, 4, 2, 1, 1, 3], w: [Double] = [1, 1, 0, 1, 0, 1], epsilon = 0.1
        let weights = try Tensor<Double>(shape: [B, T], scalars: w)
        // (1 − ε)(lse − z_y) + ε/V Σ_c (lse − z_c) per weighted row, over Σw.
        var expected = 0.0
        for r in 0..<(B * T) where w[r] > 0 {
            let z = Array(logits.value.scalars[(r * V)..<((r + 1) * V)])
            let lse = Foundation.log(z.map(Foundation.exp).reduce(0, +))
            expected += (1 - epsilon) * (lse - z[targets[r]]) + epsilon / Double(V) * z.map { lse - $0 }.reduce(0, +)
        }
        expected /= w.reduce(0, +)
        let loss = try Loss.sequenceLoss(logits: logits, targets: targets, weights: weights, labelSmoothing: epsilon)
        #expect(abs(loss.value.scalars[0] - expected) < 1e-12)
        let report = try checkGradients([("logits", logits)]) {
            try Loss.sequenceLoss(logits: logits, targets: targets, weights: weights, labelSmoothing: epsilon)
        }
        #expect(report.worstRelativeError < 1e-6, "\(report)")
        let plain = try Loss.sequenceLoss(logits: logits, targets: targets, weights: weights)
        #expect(try Loss.sequenceLoss(logits: logits, targets: targets, weights: weights, labelSmoothing: 0).value == plain.value)
        #expect(throws: RNNKitError.self) { try Loss.sequenceLoss(logits: logits, targets: targets, labelSmoothing: 1) }
        #expect(throws: RNNKitError.self) { try Loss.sequenceLoss(logits: logits, targets: targets, labelSmoothing: -0.1) }
    }

    @Test func smoothedTeacherForcingGradients() throws {
        let model = try Seq2SeqModelTests.model(Seq2SeqModelTests.variants[0], seed: 5)
        var none: SeededGenerator? = nil
        let report = try checkGradients(model.namedParameters) {
            try model.teacherForcedLoss(sources: Seq2SeqModelTests.sources, targets: Seq2SeqModelTests.targets, labelSmoothing: 0.2,
                                        training: &none).loss
        }
        #expect(report.worstRelativeError < 1e-6, "\(report)")
        let smoothed = try model.teacherForcedLoss(sources: Seq2SeqModelTests.sources, targets: Seq2SeqModelTests.targets, labelSmoothing: 0.2,
                                                   training: &none).loss.value.scalars[0]
        let plain = try model.teacherForcedLoss(sources: Seq2SeqModelTests.sources, targets: Seq2SeqModelTests.targets, training: &none)
            .loss.value.scalars[0]
        #expect(smoothed != plain)
    }
}
