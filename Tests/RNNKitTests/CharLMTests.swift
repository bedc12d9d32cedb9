import RNNKit
import Testing

@Suite struct CharLMTests {
    static func model(embedding: Int? = 5, seed: UInt64 = 61) throws -> CharLanguageModel<Float> {
        let v = Vocabulary(text: "abcdefgh ")
        var g = SeededGenerator(seed: seed)
        return try CharLanguageModel(CharLMConfiguration(vocabulary: v, embeddingSize: embedding,
                                                         recurrent: RecurrentConfiguration(cell: .lstm, inputSize: embedding ?? v.count,
                                                                                           hiddenSize: 7, numLayers: 2)),
                                     generator: &g)
    }

    /// Seed 001's exercise, by its own method: the argmax prediction equals the sentence shifted by one.
    @Test func seedSentenceReproducesTheSentence() throws {
        let text = CharLMPreset.sentence
        let vocabulary = Vocabulary(text: text)
        let (config, options) = CharLMPreset.seedSentence.settings(vocabulary: vocabulary)
        #expect(config.embeddingSize == nil && config.recurrent.hiddenSize == vocabulary.count && config.recurrent.forgetBias == 1)
        #expect(options.steps == 3000 && options.batchSize == 1 && options.optimizer.kind == .sgd && options.optimizer.learningRate == 0.1)
        var g = SeededGenerator(seed: options.seed)
        let model = try CharLanguageModel<Float>(config, generator: &g)
        try model.fc.initialize("weight", with: options.fcWeightInitializer!, generator: &g)
        try model.fc.initialize("bias", with: options.fcBiasInitializer!, generator: &g)
        let ids = try vocabulary.encode(text)
        let task = try LanguageModelTask(model: model, train: ids, validation: [], batchSize: options.batchSize,
                                         sequenceLength: options.sequenceLength)
        let trainer = try Trainer(task: task, schedule: options.schedule)
        let target = vocabulary.decode(Array(ids.dropFirst()))
        var reproducedAt: Int? = nil
        while !trainer.isFinished && reproducedAt == nil {
            _ = try trainer.runUntilEvaluation(onStep: { r in
                if reproducedAt == nil && vocabulary.decode(task.lastPrediction()) == target { reproducedAt = r.step }
            })
        }
        let at = try #require(reproducedAt, "the prediction never matched the shifted sentence in 3000 iterations")
        #expect(at <= 3000)
    }

    /// Two half-length runs with the state carried equal one run over the whole sequence.
    @Test(arguments: [5, nil] as [Int?])
    func carriedStateEqualsOneLongRun(embedding: Int?) throws {
        let model = try Self.model(embedding: embedding)
        var g = SeededGenerator(seed: 62)
        let (B, T) = (3, 8)
        let ids = (0..<(B * T)).map { _ in Int(g.next() % 9) }
        let whole = try model.logits(ids: ids, batch: B, steps: T, state: nil)
        func half(_ h: Int) -> [Int] {
            var out: [Int] = []
            for b in 0..<B {
                let start = b * T + h * (T / 2)
                out += ids[start..<(start + T / 2)]
            }
            return out
        }
        let first = try model.logits(ids: half(0), batch: B, steps: T / 2, state: nil)
        let second = try model.logits(ids: half(1), batch: B, steps: T / 2, state: first.state)
        var worst: Float = 0
        for b in 0..<B {
            for t in 0..<T {
                let part = t < T / 2 ? first.logits : second.logits
                for v in 0..<9 { worst = max(worst, abs(whole.logits[b, t, v] - part[b, t % (T / 2), v])) }
            }
        }
        #expect(worst <= 1e-6)
        #expect(try whole.state.h.maxAbsDifference(second.state.h) <= 1e-6)
    }

    /// The streams are contiguous slices of the text and batch w + 1 continues batch w.
    @Test func streamsAreContiguous() {
        let ids = Array(0..<23)  // 22 predictions, 3 streams of 7
        let a = LanguageModelTask.window(ids, streams: 3, length: 7, window: 0, steps: 4)
        let b = LanguageModelTask.window(ids, streams: 3, length: 7, window: 1, steps: 4)
        #expect(a.t == 4 && b.t == 3)
        #expect(a.x == [0, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 17] && a.y == a.x.map { $0 + 1 })
        #expect(b.x == [4, 5, 6, 11, 12, 13, 18, 19, 20] && b.y == b.x.map { $0 + 1 })
    }

    @Test func samplingIsDeterministicAndRespectsItsOptions() throws {
        let model = try Self.model()
        func sample(_ options: SamplingOptions, seed: UInt64) throws -> String {
            var g = SeededGenerator(seed: seed)
            return try model.sample(prime: "ab", length: 40, options: options, generator: &g)
        }
        #expect(try sample(SamplingOptions(), seed: 1) == sample(SamplingOptions(), seed: 1))
        #expect(try sample(SamplingOptions(), seed: 1) != sample(SamplingOptions(), seed: 2))
        let argmax = try sample(SamplingOptions(argmax: true), seed: 1)
        #expect(try sample(SamplingOptions(temperature: 1e-4), seed: 5) == argmax)
        #expect(try sample(SamplingOptions(topK: 1), seed: 9) == argmax)

        // top-k: every drawn character is among the k most likely at its step.
        var g = SeededGenerator(seed: 3)
        var streamed = ""
        let text = try model.sample(prime: "ab", length: 60, options: SamplingOptions(temperature: 2, topK: 3), generator: &g) { streamed += $0 }
        #expect(streamed == text && text.unicodeScalars.count == 60)
        var state: RecurrentState<Tensor<Float>>? = nil
        var logits = try Tensor<Float>(repeating: 0, shape: [1, 9])
        let v = model.configuration.vocabulary
        for id in try v.encode("ab") { (logits, state) = try model.step(ids: [id], state: state) }
        for id in try v.encode(text) {
            let ranked = (0..<9).sorted { logits[0, $0] > logits[0, $1] }
            #expect(ranked.prefix(3).contains(id))
            (logits, state) = try model.step(ids: [id], state: state)
        }
    }

    @Test func badSamplingRequestsThrow() throws {
        let model = try Self.model()
        var g = SeededGenerator(seed: 1)
        #expect(throws: RNNKitError.self) { try model.sample(prime: "xyz", length: 5, options: SamplingOptions(), generator: &g) }
        #expect(throws: RNNKitError.self) { try model.sample(prime: "a", length: 5, options: SamplingOptions(temperature: 0), generator: &g) }
        #expect(throws: RNNKitError.self) { try model.sample(prime: "a", length: 5, options: SamplingOptions(topK: 0), generator: &g) }
    }
}
