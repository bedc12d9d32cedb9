/// Where a language model's text came from; kept in `config.json`.
public struct TextDescription: Codable, Equatable, Sendable {
    /// The files (or "built-in sentence").
    public var sources: [String]
    public var strippedANSI: Bool
    public var trainingCharacters: Int
    public var validationCharacters: Int

    public init(sources: [String], strippedANSI: Bool, trainingCharacters: Int, validationCharacters: Int) {
        self.sources = sources
        self.strippedANSI = strippedANSI
        self.trainingCharacters = trainingCharacters
        self.validationCharacters = validationCharacters
    }
}

/// `config.json` of a language-model folder.
public struct CharLMCheckpointConfiguration: Codable, Equatable, Sendable {
    public var format = "rnnkit"
    public var version = 1
    /// Always "charlm".
    public var task = "charlm"
    /// The architecture, vocabulary included; `recurrent.forgetBias` is folded into `bias_ih` in model.safetensors.
    public var model: CharLMConfiguration
    public var data: TextDescription
    public var training: CharLMTrainingOptions?

    public init(model: CharLMConfiguration, data: TextDescription, training: CharLMTrainingOptions?) {
        self.model = model
        self.data = data
        self.training = training
    }
}

/// Saves and loads language-model folders. `model.safetensors` holds the best model by validation
/// loss (what `sample` and `eval` use); `training_state.safetensors` also holds the current weights
/// (`current.<name>`), so `--resume` continues from where training stopped.
public enum CharLMCheckpoint {
    /// Writes the folder atomically. `best` are the weights for model.safetensors as `exportWeights` made them.
    public static func save(
        to directory: String, configuration: CharLMCheckpointConfiguration, model: CharLanguageModel<Float>,
        best: [String: Tensor<Float>], optimizer: Optimizer<Float>, progress: TrainingProgress,
        carried: RecurrentState<Tensor<Float>>?, metrics: [String], curves: String
    ) throws(DataError) {
        var state: [String: Tensor<Float>] = [:]
        for (name, p) in model.namedParameters { state["current." + name] = p.value }
        if let carried {
            state["carried.h"] = carried.h
            if let c = carried.c { state["carried.c"] = c }
        }
        try CheckpointFolder.write(to: directory, configuration: encodeJSON(configuration), weights: best,
                                   trainingState: (state, optimizer, progress), metrics: metrics, curves: curves)
    }

    /// The weights of `model` as model.safetensors stores them (forget bias folded).
    public static func exportWeights(_ model: CharLanguageModel<Float>) -> [String: Tensor<Float>] {
        CheckpointFolder.exportWeights(model.namedParameters, recurrent: model.configuration.recurrent).weights
    }

    public struct Loaded {
        public var configuration: CharLMCheckpointConfiguration
        public var model: CharLanguageModel<Float>
        /// model.safetensors as stored (the best weights), kept so a resumed run can save them again.
        public var best: [String: Tensor<Float>]
        public var progress: TrainingProgress?
        public var optimizerSteps: Int
        public var optimizerState: [String: Tensor<Float>]
        public var metrics: [String]
        /// The streams' state when the checkpoint was taken mid-epoch.
        public var carried: RecurrentState<Tensor<Float>>?
    }

    /// Loads the best model for sampling and evaluation, or (`forResume`) the current weights and
    /// training state.
    public static func load(from directory: String, forResume: Bool) throws(DataError) -> Loaded {
        let configPath = directory + "/" + CheckpointFile.configuration
        let configuration: CharLMCheckpointConfiguration = try decodeJSON(readFile(configPath), path: configPath)
        guard configuration.task == "charlm" else {
            throw .malformed(path: configPath, problem: "not a language model", expected: "task \"charlm\"",
                             found: "\"\(configuration.task)\"", hint: "Use `rnnkit eval \(configuration.task)` for this folder.")
        }
        let modelPath = directory + "/" + CheckpointFile.model
        let best = try SafeTensors.read(path: modelPath, as: Float.self).tensors
        let state = forResume ? try CheckpointFolder.readTrainingState(directory) : nil
        var modelConfiguration = configuration.model
        if !forResume { modelConfiguration.recurrent.forgetBias = 0 }  // folded into the biases
        let model = try CheckpointFolder.build(configPath) { (g: inout SeededGenerator) throws(RNNKitError) in
            try CharLanguageModel<Float>(modelConfiguration, generator: &g)
        }
        try CheckpointFolder.assignCurrentOrBest(state?.tensors, best: best, directory: directory, to: model.namedParameters)
        return Loaded(configuration: configuration, model: model, best: best, progress: state?.progress,
                      optimizerSteps: state?.steps ?? 0, optimizerState: state?.optimizerState ?? [:],
                      metrics: CheckpointFolder.readMetrics(directory),
                      carried: state?.tensors["carried.h"].map { RecurrentState(h: $0, c: state?.tensors["carried.c"]) })
    }
}
