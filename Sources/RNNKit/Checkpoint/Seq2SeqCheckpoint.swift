/// `config.json` of an encoder–decoder folder: the architecture, both vocabularies and how each
/// side splits into tokens, where the pairs came from, and the training options.
public struct Seq2SeqCheckpointConfiguration: Codable, Equatable, Sendable {
    public var format = "rnnkit"
    public var version = 1
    /// Always "seq2seq".
    public var task = "seq2seq"
    public var model: Seq2SeqConfiguration
    /// Source tokens in id order (`<pad>`, `<s>`, `</s>` first).
    public var sourceVocabulary: TokenVocabulary
    public var targetVocabulary: TokenVocabulary
    public var data: Seq2SeqDataSource
    public var training: Seq2SeqTrainingOptions?

    public init(model: Seq2SeqConfiguration, sourceVocabulary: TokenVocabulary, targetVocabulary: TokenVocabulary,
                data: Seq2SeqDataSource, training: Seq2SeqTrainingOptions?) {
        self.model = model
        self.sourceVocabulary = sourceVocabulary
        self.targetVocabulary = targetVocabulary
        self.data = data
        self.training = training
    }

    /// The longest output to decode: the training option, or twice the longest target plus 10.
    public func maxLength(longestTarget: Int) -> Int { training?.maxLength ?? 2 * longestTarget + 10 }
}

/// Saves and loads encoder–decoder folders. As for language models, `model.safetensors` holds the
/// best weights by validation loss (what `eval` and `translate` use), under the PyTorch module
/// names of the README, and `training_state.safetensors` the current ones (`current.<name>`) with
/// the optimizer's state, for `--resume`.
public enum Seq2SeqCheckpoint {
    /// Writes the folder atomically; `best` as `exportWeights` made them.
    public static func save(to directory: String, configuration: Seq2SeqCheckpointConfiguration, model: Seq2SeqModel<Float>,
                            best: [String: Tensor<Float>], optimizer: Optimizer<Float>, progress: TrainingProgress,
                            metrics: [String], curves: String) throws(DataError) {
        var state: [String: Tensor<Float>] = [:]
        for (name, p) in model.namedParameters { state["current." + name] = p.value }
        try CheckpointFolder.write(to: directory, configuration: encodeJSON(configuration), weights: best,
                                   trainingState: (state, optimizer, progress), metrics: metrics, curves: curves)
    }

    /// The weights of `model` by name (a copy: training goes on changing the model's).
    public static func exportWeights(_ model: Seq2SeqModel<Float>) -> [String: Tensor<Float>] {
        Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.variable.value) })
    }

    public struct Loaded {
        public var configuration: Seq2SeqCheckpointConfiguration
        public var model: Seq2SeqModel<Float>
        /// model.safetensors as stored, kept so a resumed run can save them again.
        public var best: [String: Tensor<Float>]
        public var progress: TrainingProgress?
        public var optimizerSteps: Int
        public var optimizerState: [String: Tensor<Float>]
        public var metrics: [String]
    }

    /// Loads the best model (for `eval` and `translate`), or (`forResume`) the current weights and
    /// the training state.
    public static func load(from directory: String, forResume: Bool) throws(DataError) -> Loaded {
        let configPath = directory + "/" + CheckpointFile.configuration
        let bytes = try readFile(configPath)
        struct Task: Decodable { var task: String }
        let task: Task = try decodeJSON(bytes, path: configPath)
        guard task.task == "seq2seq" else {
            throw .malformed(path: configPath, problem: "not a sequence-to-sequence model", expected: "task \"seq2seq\"",
                             found: "\"\(task.task)\"", hint: task.task == "charlm" ? "Use `rnnkit eval text` for this folder."
                                 : "Use `rnnkit eval \(task.task)` for this folder.")
        }
        let configuration: Seq2SeqCheckpointConfiguration = try decodeJSON(bytes, path: configPath)
        let c = configuration.model
        guard c.sourceVocabulary == configuration.sourceVocabulary.count, c.targetVocabulary == configuration.targetVocabulary.count else {
            throw .malformed(path: configPath, problem: "vocabulary sizes differ from the model's", expected:
                                "\(c.sourceVocabulary) source and \(c.targetVocabulary) target tokens",
                             found: "\(configuration.sourceVocabulary.count) and \(configuration.targetVocabulary.count)",
                             hint: "config.json was edited; restore it from the run.")
        }
        let modelPath = directory + "/" + CheckpointFile.model
        let best = try SafeTensors.read(path: modelPath, as: Float.self).tensors
        let state = forResume ? try CheckpointFolder.readTrainingState(directory) : nil
        let model = try CheckpointFolder.build(configPath) { (g: inout SeededGenerator) throws(RNNKitError) in
            try Seq2SeqModel<Float>(c, generator: &g)
        }
        try CheckpointFolder.assignCurrentOrBest(state?.tensors, best: best, directory: directory, to: model.namedParameters)
        return Loaded(configuration: configuration, model: model, best: best, progress: state?.progress,
                      optimizerSteps: state?.steps ?? 0, optimizerState: state?.optimizerState ?? [:],
                      metrics: CheckpointFolder.readMetrics(directory))
    }
}
