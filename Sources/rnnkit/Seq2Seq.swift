import ArgumentParser
import Foundation
import RNNKit

extension Seq2SeqPreset: ExpressibleByArgument {}
extension TokenUnit: ExpressibleByArgument {}
extension AttentionKind: ExpressibleByArgument {}

struct Seq2SeqTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seq2seq",
        abstract: "Train an encoder–decoder with attention on source<TAB>target pairs (N → M sequences).",
        discussion: """
        Defaults: embedding 64, bidirectional LSTM 128 (decoder 256), Luong attention with input feeding, batch 64, \
        Adam 1e-3, clip 5, 10 epochs, a tenth of the distinct sources held out for validation. The best model by \
        validation loss is kept. Presets: g2p (Debian festlex-cmu), couplets (fortunes-zh), addition (generated); \
        `make seq2seq-presets` installs their data.
        """
    )

    @Option(help: "Training pairs: one source<TAB>target per line, UTF-8.") var pairs: String?
    @Option(help: "Test pairs in the same format, scored after training.") var test: String?
    @Option(help: "Ready-made data and settings: g2p, couplets or addition.") var preset: Seq2SeqPreset?
    @Option(help: "g2p: the pronunciation dictionary, Festival's format or plain cmudict (default: festlex-cmu's).")
    var lexicon: String?
    @Flag(name: .customLong("no-stress"), help: "g2p: drop the stress digits from the phones.") var noStress = false
    @Option(name: .customLong("source-tokens"), help: "How sources split into tokens: chars or words (split on spaces).")
    var sourceTokens: TokenUnit?
    @Option(name: .customLong("target-tokens"), help: "How targets split into tokens: chars or words.") var targetTokens: TokenUnit?
    @Option(help: "Distinct sources held out for validation: a fraction below 1, or a count.") var validation: Double?
    @Option(help: "Recurrent cell of encoder and decoder: lstm or gru.") var cell: CellOption?
    @Option(help: "Encoder units per direction (the decoder has the encoder's output width).") var hidden: Int?
    @Option(help: "Stacked layers of encoder and decoder.") var layers: Int?
    @Option(help: "Embedding size of source and target tokens.") var embedding: Int?
    @Option(help: "Dropout rate between stacked layers and on each stack's output.") var dropout: Double?
    @Option(help: "bahdanau (additive), luong (general) or none.") var attention: AttentionKind?
    @Flag(name: .customLong("no-input-feeding"), help: "Do not feed the previous attentional vector into the next decoder step.")
    var noInputFeeding = false
    @Flag(help: "A one-directional encoder.") var unidirectional = false
    @Option(help: "Pairs per step.") var batch: Int?
    @Option(name: .customLong("label-smoothing"), help: "Spread this share of each target over the vocabulary (0.1 is usual).")
    var labelSmoothing: Double?
    @Option(name: .customLong("max-length"), help: "Longest output decoded (default: twice the longest training target, plus 10).")
    var maxLength: Int?
    @Option(help: "Beam width for the test set's decoding after training (1: greedy).") var beam: Int = 1
    @OptionGroup var flags: RunFlags

    func validate() throws {
        if preset == nil && flags.resume == nil && pairs == nil {
            throw ValidationError("give training pairs with --pairs FILE, a --preset, or --resume DIR.")
        }
        if preset != nil && pairs != nil {
            throw ValidationError("--preset \(preset!.rawValue) brings its own data; leave out --pairs (or the preset).")
        }
        if lexicon != nil || noStress, preset != .g2p, flags.resume == nil {
            throw ValidationError("--lexicon and --no-stress belong to --preset g2p.")
        }
        if let cell, cell != .lstm && cell != .gru { throw ValidationError("--cell must be lstm or gru for an encoder–decoder (found \(cell.rawValue)).") }
        for (name, value) in [("--hidden", hidden), ("--layers", layers), ("--embedding", embedding), ("--batch", batch),
                              ("--max-length", maxLength), ("--beam", beam)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be at least 1 (found \(value)).") }
        }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be a rate in [0, 1) (found \(dropout)).") }
        if let labelSmoothing, !(labelSmoothing >= 0 && labelSmoothing < 1) {
            throw ValidationError("--label-smoothing must be in [0, 1) (found \(labelSmoothing)).")
        }
        if let validation, !(validation >= 0 && (validation < 1 || validation == validation.rounded())) {
            throw ValidationError("--validation must be a fraction below 1 or a whole count of sources (found \(validation)).")
        }
        if flags.resume != nil {
            try flags.rejectSetupFlags([
                ("--pairs", pairs != nil), ("--test", test != nil), ("--preset", preset != nil), ("--lexicon", lexicon != nil),
                ("--no-stress", noStress), ("--source-tokens", sourceTokens != nil), ("--target-tokens", targetTokens != nil),
                ("--validation", validation != nil), ("--cell", cell != nil), ("--hidden", hidden != nil), ("--layers", layers != nil),
                ("--embedding", embedding != nil), ("--dropout", dropout != nil), ("--attention", attention != nil),
                ("--no-input-feeding", noInputFeeding), ("--unidirectional", unidirectional), ("--batch", batch != nil),
                ("--label-smoothing", labelSmoothing != nil), ("--max-length", maxLength != nil),
            ], allowed: " and --beam")
        }
    }

    func run() throws {
        let group = try joinProcessGroup(distributed: flags.distributed)
        let directory: String
        let trainer: Trainer<Seq2SeqTask>
        var configuration: Seq2SeqCheckpointConfiguration
        var metricLines: [String] = []
        var best: [String: Tensor<Float>]
        let testPairs: SequencePairs?
        if let resume = flags.resume {
            let loaded = try Seq2SeqCheckpoint.load(from: resume, forResume: true)
            let (options, progress) = try flags.continuing(loaded.configuration.training, loaded.progress, from: resume)
            configuration = loaded.configuration
            configuration.training = options
            let data = try configuration.data.load()
            testPairs = data.test
            let task = try makeTask(loaded.model, configuration, data.train, data.validation)
            trainer = try Trainer(task: task, schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState),
                                  group: group)
            directory = flags.out ?? resume
            best = loaded.best
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            var (source, model, options) = preset?.settings(seed: flags.seed ?? 0)
                ?? (Seq2SeqDataSource(pairs: pairs, test: test, sourceTokens: .chars, targetTokens: .chars, validation: 0.1, splitSeed: flags.seed ?? 0),
                    Seq2SeqConfiguration(sourceVocabulary: 1, targetVocabulary: 1), Seq2SeqTrainingOptions())
            applyFlags(&source, &model, &options)
            try options.validate()
            let data = try source.load()
            testPairs = data.test
            // Both vocabularies hold every token of the data read (training, validation and test),
            // so that no held-out pair is refused; tokens seen only there keep their initial embedding.
            let everything = [data.train, data.validation, data.test ?? SequencePairs(sources: [], targets: [])]
            let sourceVocabulary = TokenVocabulary(sequences: everything.flatMap(\.sources))
            let targetVocabulary = TokenVocabulary(sequences: everything.flatMap(\.targets))
            model.sourceVocabulary = sourceVocabulary.count
            model.targetVocabulary = targetVocabulary.count
            if options.maxLength == nil { options.maxLength = 2 * (data.train.targets.map(\.count).max() ?? 0) + 10 }
            configuration = Seq2SeqCheckpointConfiguration(model: model, sourceVocabulary: sourceVocabulary, targetVocabulary: targetVocabulary,
                                                           data: source, training: options)
            directory = flags.out ?? defaultRunFolder("seq2seq")
            try ClassifierCheckpoint.checkWritable(directory)
            var generator = SeededGenerator(seed: options.seed)
            let network = try Seq2SeqModel<Float>(model, generator: &generator)
            trainer = try Trainer(task: makeTask(network, configuration, data.train, data.validation), schedule: options.schedule, group: group)
            best = Seq2SeqCheckpoint.exportWeights(network)
            log("model: embedding \(model.embedding) → \(model.bidirectional ? "bidirectional " : "")\(model.cell.rawValue) \(model.hidden) × \(model.layers)"
                + " → decoder \(model.encoderOutput), attention \(model.attention.rawValue)\(model.inputFeeding && model.attention != .none ? " (input feeding)" : "")"
                + "; \(network.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            let name = preset.map { "preset \($0.rawValue)" } ?? pairs!
            log("pairs: \(name): \(data.train.count) training, \(data.validation.count) validation, \(data.test.map { "\($0.count)" } ?? "no") test;"
                + " vocabularies \(sourceVocabulary.count - 3) \(source.sourceTokens.rawValue) → \(targetVocabulary.count - 3) \(source.targetTokens.rawValue)")
            let budget: String = options.steps.map { "\($0) steps" } ?? "\(options.epochs) epochs"
            let smoothing: String = options.labelSmoothing > 0 ? ", label smoothing \(options.labelSmoothing)" : ""
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), \(budget) "
                + "(\(trainer.stepsPerEpoch) steps each)\(smoothing), seed \(options.seed); saving to \(directory)")
        }

        let task = trainer.task
        try group.describe(batch: task.batchSize)
        let results = try runTraining(
            trainer, directory: directory, command: "rnnkit train seq2seq", metrics: &metricLines,
            save: { lines, curves in
                try Seq2SeqCheckpoint.save(to: directory, configuration: configuration, model: task.model, best: best,
                                           optimizer: trainer.optimizer, progress: trainer.progress, metrics: lines, curves: curves)
            },
            quiet: { m in
                if m.isBest { best = Seq2SeqCheckpoint.exportWeights(task.model) }
                return false
            })
        defer { group.finish() }
        guard group.isPrimary else { return }  // the test set is rank 0's
        let last = results.last
        var summary = trainingSummary(trainer, directory: directory)
        let figures: [String: Double] = [
            "train_loss": last?.trainLoss ?? .nan, "validation_loss": last?.validationLoss ?? .nan,
            "best_validation_loss": trainer.progress.bestValidationLoss ?? .nan,
            "validation_sequence_error_rate": last?["validationSequenceErrorRate"] ?? .nan,
            "validation_token_error_rate": last?["validationTokenErrorRate"] ?? .nan,
        ]
        summary.merge(figures) { $1 }
        for key in ["test_sequence_error_rate", "test_token_error_rate", "test_bleu"] { summary[key] = NSNull() }
        if let testPairs {
            // The test set is scored with the best model, the one saved.
            let saved = try Seq2SeqCheckpoint.load(from: directory, forResume: false)
            let report = try Seq2SeqReport(saved, pairs: testPairs, place: { "test pair \($0)" }, beam: beam)
            log("test (best model, \(beam == 1 ? "greedy" : "beam \(beam)")): " + report.line + "  model saved in \(directory)")
            report.printSamples(3)
            summary.merge(report.json(prefix: "test_")) { $1 }
        } else {
            log("done: \(trainer.progress.step) steps; best model saved in \(directory)")
        }
        if flags.json { printJSONLine(summary) }
    }

    private func makeTask(_ model: Seq2SeqModel<Float>, _ c: Seq2SeqCheckpointConfiguration, _ train: SequencePairs,
                          _ validation: SequencePairs) throws -> Seq2SeqTask {
        let options = c.training ?? Seq2SeqTrainingOptions()
        return try Seq2SeqTask(
            model: model, train: Seq2SeqData(train, source: c.sourceVocabulary, target: c.targetVocabulary),
            validation: Seq2SeqData(validation, source: c.sourceVocabulary, target: c.targetVocabulary), batchSize: options.batchSize,
            maxLength: c.maxLength(longestTarget: train.targets.map(\.count).max() ?? 0), labelSmoothing: options.labelSmoothing)
    }

    private func applyFlags(_ d: inout Seq2SeqDataSource, _ m: inout Seq2SeqConfiguration, _ t: inout Seq2SeqTrainingOptions) {
        if let lexicon { d.pairs = lexicon }
        if noStress { d.stress = false }
        if let sourceTokens { d.sourceTokens = sourceTokens }
        if let targetTokens { d.targetTokens = targetTokens }
        if let validation { d.validation = validation }
        if let cell { m.cell = cell.cell }
        if let hidden { m.hidden = hidden }
        if let layers { m.layers = layers }
        if let embedding { m.embedding = embedding }
        if let dropout { m.dropout = dropout }
        if let attention { m.attention = attention }
        if noInputFeeding { m.inputFeeding = false }
        if unidirectional { m.bidirectional = false }
        if let batch { t.batchSize = batch }
        if let labelSmoothing { t.labelSmoothing = labelSmoothing }
        if let maxLength { t.maxLength = maxLength }
        flags.apply(to: &t)
        if let seed = flags.seed { d.splitSeed = seed }
    }
}

/// Pairs decoded by a saved model and scored against each source's references: the lines and JSON
/// fields `train seq2seq` (its test set) and `eval seq2seq` print.
struct Seq2SeqReport {
    let scores: SequenceScores
    /// The teacher-forced cross-entropy per target token (end tokens included).
    let loss: Double
    let sources: [[String]]
    let outputs: [[String]]
    let references: [[[String]]]
    let units: (source: TokenUnit, target: TokenUnit)

    init(_ loaded: Seq2SeqCheckpoint.Loaded, pairs: SequencePairs, place: (Int) -> String, beam: Int, maxLength: Int? = nil) throws {
        let c = loaded.configuration
        let data = try Seq2SeqData(pairs, source: c.sourceVocabulary, target: c.targetVocabulary, place: { place($0 + 1) })
        let (sum, tokens) = try teacherForcedLossSum(loaded.model, data)
        loss = sum / Double(max(tokens, 1))
        let (sources, references) = data.references()
        let longest = c.maxLength(longestTarget: pairs.targets.map(\.count).max() ?? 0)
        let (scores, outputs) = try evaluateSeq2Seq(loaded.model, sources: sources, references: references, beam: beam,
                                                    maxLength: maxLength ?? longest, bleu: c.data.targetTokens == .words)
        self.scores = scores
        self.sources = sources.map { c.sourceVocabulary.decode($0) }
        self.outputs = outputs.map { c.targetVocabulary.decode($0) }
        self.references = references.map { $0.map { c.targetVocabulary.decode($0) } }
        units = (c.data.sourceTokens, c.data.targetTokens)
    }

    var line: String {
        String(format: "loss %.4f  sequence error rate %.2f%%  token error rate %.2f%%", loss, 100 * scores.sequenceErrorRate, 100 * scores.tokenErrorRate)
            + (scores.bleu.map { String(format: "  BLEU %.2f", 100 * $0) } ?? "") + "  (\(scores.count) sources)"
    }

    func json(prefix: String) -> [String: Any] {
        [prefix + "loss": loss, prefix + "sequence_error_rate": scores.sequenceErrorRate, prefix + "token_error_rate": scores.tokenErrorRate,
         prefix + "bleu": scores.bleu ?? NSNull(), prefix + "sources": scores.count]
    }

    /// The first `n` sources with their output and (when it differs) the first reference.
    func printSamples(_ n: Int) {
        for i in 0..<min(n, sources.count) {
            let right = references[i].contains(outputs[i])
            log("  \(units.source.join(sources[i])) → \(units.target.join(outputs[i]))"
                + (right ? "  ✓" : "  (reference: \(units.target.join(references[i][0])))"))
        }
    }
}

struct Seq2SeqEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seq2seq",
        abstract: "Sequence and token error rates (and BLEU-4 for word targets) of a trained encoder–decoder on pairs.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Pairs to score: one source<TAB>target per line; a source on several lines has several references (default: the run's test set).")
    var pairs: String?
    @Option(help: "Beam width (1: greedy).") var beam = 1
    @Option(name: .customLong("max-length"), help: "Longest output decoded (default: the model's).") var maxLength: Int?
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func validate() throws {
        if beam < 1 { throw ValidationError("--beam must be at least 1 (found \(beam)).") }
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1 (found \(maxLength)).") }
    }

    func run() throws {
        let loaded = try Seq2SeqCheckpoint.load(from: model, forResume: false)
        let data = loaded.configuration.data
        let pairs: SequencePairs, name: String
        if let path = self.pairs {
            pairs = try PairsFile.read(path: path, source: data.sourceTokens, target: data.targetTokens)
            name = path
        } else {
            // The test set the run held out or was given, read and split again as training did.
            guard let test = try data.load().test else {
                throw ValidationError("\(model) was trained without a test set; give pairs to score with --pairs FILE.")
            }
            pairs = test
            name = data.test ?? "the run's held-out test set"
        }
        let report = try Seq2SeqReport(loaded, pairs: pairs, place: { "pair \($0) of \(name)" }, beam: beam, maxLength: maxLength)
        print("\(name) (\(beam == 1 ? "greedy" : "beam \(beam)")): " + report.line)
        report.printSamples(3)
        if json { printJSONLine(report.json(prefix: "test_").merging(["model": model, "beam": beam]) { $1 }) }
    }
}

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode inputs with a trained encoder–decoder, one output per line.",
        discussion: "Reads lines from standard input when no text is given, and writes each output as soon as it is decoded; an empty line gives an empty line.")

    @Option(help: "Checkpoint folder.") var model: String
    @Argument(help: "Inputs to translate (default: lines of standard input).") var texts: [String] = []
    @Option(help: "Beam width (1: greedy).") var beam = 1
    @Option(name: .customLong("max-length"), help: "Longest output decoded (default: the model's).") var maxLength: Int?
    @Option(name: .customLong("attention-svg"), help: "Draw the attention of the first input's output as a heat map (SVG) here.")
    var attentionSVG: String?

    func validate() throws {
        if beam < 1 { throw ValidationError("--beam must be at least 1 (found \(beam)).") }
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1 (found \(maxLength)).") }
    }

    func run() throws {
        let loaded = try Seq2SeqCheckpoint.load(from: model, forResume: false)
        let c = loaded.configuration
        if attentionSVG != nil && c.model.attention == .none {
            throw ValidationError("--attention-svg: this model has no attention (trained with --attention none).")
        }
        let longest = maxLength ?? c.training?.maxLength ?? 100
        var first = true
        func translate(_ text: String, place: String) throws {
            let tokens = c.data.sourceTokens.tokens(text)
            guard !tokens.isEmpty else { print(""); fflush(nil); return }
            let ids = try c.sourceVocabulary.encode(tokens, place: place, argument: "input")
            let decoded = try (beam == 1 ? loaded.model.greedy([ids], maxLength: longest)
                                         : loaded.model.beamSearch([ids], beam: beam, maxLength: longest))[0]
            let output = c.targetVocabulary.decode(decoded.tokens)
            print(c.data.targetTokens.join(output))
            fflush(nil)
            if first, let attentionSVG {
                let rows = output + (decoded.finished ? ["</s>"] : [])
                let svg = RNNKit.attentionSVG(title: "\(text) → \(c.data.targetTokens.join(output))", source: tokens, output: rows,
                                              weights: Array(decoded.attention.prefix(rows.count)))
                do {
                    try Data(svg.utf8).write(to: URL(fileURLWithPath: attentionSVG), options: .atomic)
                } catch {
                    throw ValidationError("--attention-svg: cannot write \(attentionSVG): \(error.localizedDescription)")
                }
            }
            first = false
        }
        if !texts.isEmpty {
            for (i, text) in texts.enumerated() { try translate(text, place: "argument \(i + 1)") }
            return
        }
        var number = 0
        while let line = readLine(strippingNewline: true) {
            number += 1
            try translate(line.hasSuffix("\r") ? String(line.dropLast()) : line, place: "line \(number) of standard input")
        }
    }
}
