import ArgumentParser
import Foundation
import RNNKit

struct CharLMTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Train a character-level language model on UTF-8 text.",
        discussion: """
        Defaults (char-rnn's, scaled to 2 cores): embedding 64, LSTM 128 × 2 layers, seq-len 50, batch 50, Adam 2e-3, \
        clip 5, 10 epochs, the last 10% of the text for validation. Presets: \(CharLMPreset.allCases.map(\.rawValue).joined(separator: ", ")).
        """
    )

    @Option(name: .customLong("text"), help: "UTF-8 text file (repeat for several).") var texts: [String] = []
    @Option(help: "seed-sentence, tang or fortunes.") var preset: String?
    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.") var cell: CellOption?
    @Option(help: "Units per layer.") var hidden: Int?
    @Option(help: "Stacked layers.") var layers: Int?
    @Option(help: "Embedding size.") var embedding: Int?
    @Flag(name: .customLong("one-hot"), help: "Feed one-hot vectors instead of an embedding.") var oneHot = false
    @Option(help: "Dropout rate after each recurrent layer.") var dropout: Double?
    @Option(name: .customLong("seq-len"), help: "Steps of truncated backpropagation through time.") var seqLen: Int?
    @Option(help: "Parallel streams through the text.") var batch: Int?
    @Option(help: "Fraction of the text, from its end, held out for validation.") var validation: Double?
    @Flag(name: .customLong("strip-ansi"), help: "Remove ANSI colour escapes from the text (presets that read fortune files do).")
    var stripANSI = false
    @Option(name: .customLong("show-predictions"), help: "Every N steps print the loss and the argmax prediction of the first stream.")
    var showPredictions: Int?
    @OptionGroup var flags: RunFlags

    func validate() throws {
        if let preset, CharLMPreset(rawValue: preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(CharLMPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if preset == nil && flags.resume == nil && texts.isEmpty {
            throw ValidationError("give a text with --text FILE, a --preset, or --resume DIR.")
        }
        if oneHot && embedding != nil { throw ValidationError("--one-hot and --embedding exclude each other.") }
        for (name, value) in [("--hidden", hidden), ("--layers", layers), ("--embedding", embedding), ("--seq-len", seqLen),
                              ("--batch", batch), ("--show-predictions", showPredictions)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be at least 1 (found \(value)).") }
        }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be a rate in [0, 1) (found \(dropout)).") }
        if let validation, !(validation >= 0 && validation < 1) {
            throw ValidationError("--validation must be a fraction in [0, 1) (found \(validation)).")
        }
        if flags.resume != nil {
            try flags.rejectSetupFlags([
                ("--text", !texts.isEmpty), ("--preset", preset != nil), ("--cell", cell != nil), ("--hidden", hidden != nil),
                ("--layers", layers != nil), ("--embedding", embedding != nil), ("--one-hot", oneHot), ("--dropout", dropout != nil),
                ("--seq-len", seqLen != nil), ("--batch", batch != nil), ("--validation", validation != nil), ("--strip-ansi", stripANSI),
            ], allowed: " and --show-predictions")
        }
    }

    func run() throws {
        let group = try joinProcessGroup(distributed: flags.distributed)
        let preset = self.preset.flatMap(CharLMPreset.init(rawValue:))
        let directory: String
        let trainer: Trainer<LanguageModelTask>
        var configuration: CharLMCheckpointConfiguration
        var metricLines: [String] = []
        var best: [String: Tensor<Float>]
        if let resume = flags.resume {
            let loaded = try CharLMCheckpoint.load(from: resume, forResume: true)
            let (options, progress) = try flags.continuing(loaded.configuration.training, loaded.progress, from: resume)
            configuration = loaded.configuration
            configuration.training = options
            let (train, validation) = try loadText(sources: configuration.data.sources, stripANSI: configuration.data.strippedANSI,
                                                   fraction: options.validationFraction, vocabulary: configuration.model.vocabulary)
            let task = try LanguageModelTask(model: loaded.model, train: train, validation: validation, batchSize: options.batchSize,
                                             sequenceLength: options.sequenceLength)
            task.carriedState = loaded.carried
            trainer = try Trainer(task: task, schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState),
                                  group: group)
            directory = flags.out ?? resume
            best = loaded.best
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            let sources = texts.isEmpty ? (preset?.textFiles ?? []) : texts
            let strip = stripANSI || (texts.isEmpty && preset?.stripsANSI == true)
            let full = sources.isEmpty ? CharLMPreset.sentence : try sources.map { try TextCorpus.read(path: $0, stripANSI: strip) }.joined()
            let vocabulary = Vocabulary(text: full)
            var (model, options) = preset?.settings(vocabulary: vocabulary) ?? defaults(vocabulary)
            applyFlags(&model, &options, vocabulary: vocabulary)
            try options.validate()
            let (train, validation) = try split(full, vocabulary: vocabulary, fraction: options.validationFraction)
            directory = flags.out ?? defaultRunFolder("charlm")
            try ClassifierCheckpoint.checkWritable(directory)
            var generator = SeededGenerator(seed: options.seed)
            let lm = try CharLanguageModel<Float>(model, generator: &generator)
            if let w = options.fcWeightInitializer { try lm.fc.initialize("weight", with: w, generator: &generator) }
            if let b = options.fcBiasInitializer { try lm.fc.initialize("bias", with: b, generator: &generator) }
            trainer = try Trainer(task: LanguageModelTask(model: lm, train: train, validation: validation, batchSize: options.batchSize,
                                                          sequenceLength: options.sequenceLength),
                                  schedule: options.schedule, group: group)
            configuration = CharLMCheckpointConfiguration(
                model: model, data: TextDescription(sources: sources.isEmpty ? [] : sources, strippedANSI: strip,
                                                    trainingCharacters: train.count, validationCharacters: validation.count),
                training: options)
            best = CharLMCheckpoint.exportWeights(lm)
            let r = model.recurrent
            log("model: \(model.embeddingSize.map { "embedding \($0)" } ?? "one-hot") → \(r.cell.rawValue) \(r.hiddenSize) × \(r.numLayers) "
                + "→ dense \(vocabulary.count); \(lm.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            log("text: \(sources.isEmpty ? "seed 001's sentence" : sources.count == 1 ? sources[0] : "\(sources.count) files"): "
                + "\(train.count) training and \(validation.count) validation characters, vocabulary \(vocabulary.count)")
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), seq-len "
                + "\(options.sequenceLength), " + (options.steps.map { "\($0) steps" } ?? "\(options.epochs) epochs")
                + " (\(trainer.stepsPerEpoch) steps each), seed \(options.seed); saving to \(directory)")
        }

        let task = trainer.task
        let vocabulary = configuration.model.vocabulary
        let showEvery = showPredictions ?? (preset == .seedSentence ? 100 : nil)
        try group.describe(batch: task.batchSize)
        let results = try runTraining(
            trainer, directory: directory, command: invokedAs("rnnkit train text"), metrics: &metricLines,
            save: { lines, curves in
                try CharLMCheckpoint.save(to: directory, configuration: configuration, model: task.model, best: best,
                                          optimizer: trainer.optimizer, progress: trainer.progress, carried: task.carriedState,
                                          metrics: lines, curves: curves)
            },
            quiet: { m in
                // model.safetensors keeps the best weights by validation loss (every point's, without validation).
                if m.isBest { best = CharLMCheckpoint.exportWeights(task.model) }
                return showEvery != nil && m.validationLoss == nil
            },
            onStep: { r, progressLine in
                if let showEvery, r.step % showEvery == 0 || r.step == 1 {
                    progressLine.clear()
                    log(String(format: "iteration %d  loss %.5f  prediction: ", r.step, r.loss) + vocabulary.decode(task.lastPrediction()))
                }
            })
        defer { group.finish() }
        let last = results.last
        log("done: \(trainer.progress.step) steps, best validation loss "
            + (trainer.progress.bestValidationLoss.map { String(format: "%.4f (%.3f bits/char)", $0, $0 / log(2.0)) } ?? "n/a")
            + "; best model saved in \(directory)")
        if flags.json {
            printJSONLine(trainingSummary(trainer, directory: directory).merging([
                "train_loss": last?.trainLoss ?? Double.nan, "validation_loss": last?.validationLoss ?? Double.nan,
                "best_validation_loss": trainer.progress.bestValidationLoss ?? Double.nan,
                "validation_bits_per_character": last?["validationBitsPerCharacter"] ?? Double.nan,
            ]) { $1 })
        }
    }

    private func defaults(_ vocabulary: Vocabulary) -> (CharLMConfiguration, CharLMTrainingOptions) {
        var t = CharLMTrainingOptions()
        t.batchSize = 50
        t.sequenceLength = 50
        return (CharLMConfiguration(vocabulary: vocabulary, embeddingSize: 64,
                                    recurrent: RecurrentConfiguration(cell: .lstm, inputSize: 64, hiddenSize: 128, numLayers: 2)), t)
    }

    private func applyFlags(_ m: inout CharLMConfiguration, _ t: inout CharLMTrainingOptions, vocabulary: Vocabulary) {
        if let cell {
            m.recurrent.cell = cell.cell
            if cell != .lstm { m.recurrent.forgetBias = 0 }
        }
        if let hidden { m.recurrent.hiddenSize = hidden }
        if let layers { m.recurrent.numLayers = layers }
        if oneHot { m.embeddingSize = nil }
        if let embedding { m.embeddingSize = embedding }
        if let dropout { m.recurrent.dropout = dropout; m.recurrent.outputDropout = dropout }
        m.recurrent.inputSize = m.embeddingSize ?? vocabulary.count
        if let seqLen { t.sequenceLength = seqLen }
        if let batch { t.batchSize = batch }
        if let validation { t.validationFraction = validation }
        flags.apply(to: &t)
    }

    /// Training and validation ids: the last `fraction` of the text is validation.
    private func split(_ text: String, vocabulary: Vocabulary, fraction: Double) throws -> ([Int], [Int]) {
        let ids = try vocabulary.encode(text)
        let held = Int(Double(ids.count) * fraction)
        return (Array(ids[..<(ids.count - held)]), Array(ids[(ids.count - held)...]))
    }

    private func loadText(sources: [String], stripANSI: Bool, fraction: Double, vocabulary: Vocabulary) throws -> ([Int], [Int]) {
        let full = sources.isEmpty ? CharLMPreset.sentence : try sources.map { try TextCorpus.read(path: $0, stripANSI: stripANSI) }.joined()
        return try split(full, vocabulary: vocabulary, fraction: fraction)
    }
}
