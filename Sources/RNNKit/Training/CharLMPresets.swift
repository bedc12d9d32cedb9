/// The language-model presets: seed 001's sentence exercise and two corpora from Debian packages.
public enum CharLMPreset: String, CaseIterable, Sendable {
    /// Seed 001 exactly: one-hot input, LSTM with hidden size = vocabulary size (TF1 forget bias 1.0),
    /// dense to logits, sequence loss with weights 1, gradient descent 0.1, batch 1, 3,000 iterations
    /// on the whole sentence from a zero state, no validation.
    case seedSentence = "seed-sentence"
    /// Tang poems (Debian `fortunes-zh`): embedding 128, LSTM 256 × 2, dropout 0.2, seq 64, batch 32, Adam 2e-3.
    case tang
    /// English fortunes (Debian `fortunes`): embedding 64, LSTM 256 × 2, dropout 0.2, seq 100, batch 64, Adam 2e-3.
    case fortunes

    /// The seed's sentence.
    public static let sentence = "这是一个基于tensorflow的RNN短句子练习"

    /// Files of the preset's text (nil: the built-in sentence) and whether to strip ANSI escapes.
    public var textFiles: [String]? {
        switch self {
        case .seedSentence: nil
        case .tang: ["/usr/share/games/fortunes/tang300"]
        case .fortunes: Self.englishFortunes.map { "/usr/share/games/fortunes/" + $0 }
        }
    }

    /// The English collections of Debian's `fortunes` and `fortunes-min` packages (not the
    /// offensive ones, not fortunes-zh's Chinese files that share the folder).
    public static let englishFortunes = [
        "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
        "ethnic", "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie",
        "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people",
        "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
        "startrek", "tao", "translate-me", "wisdom", "work", "zippy",
    ]

    public var stripsANSI: Bool { self != .seedSentence }

    /// The model and training settings for a text with this vocabulary.
    public func settings(vocabulary: Vocabulary) -> (model: CharLMConfiguration, training: CharLMTrainingOptions) {
        var t = CharLMTrainingOptions()
        let v = vocabulary.count
        switch self {
        case .seedSentence:
            t.steps = 3000
            t.batchSize = 1
            t.sequenceLength = Self.sentence.unicodeScalars.count - 1
            t.optimizer = OptimizerConfiguration(kind: .sgd, learningRate: 0.1)
            t.clipNorm = nil
            t.validationFraction = 0
            t.fcWeightInitializer = .glorotUniform  // TF's fully_connected default
            t.fcBiasInitializer = .constant(0)
            return (CharLMConfiguration(vocabulary: vocabulary, embeddingSize: nil,
                                        recurrent: RecurrentConfiguration(cell: .lstm, inputSize: v, hiddenSize: v, forgetBias: 1)), t)
        case .tang, .fortunes:
            let english = self == .fortunes
            t.epochs = english ? 2 : 20
            t.batchSize = english ? 64 : 32
            t.sequenceLength = english ? 100 : 64
            t.evaluateEvery = english ? 500 : nil
            t.validationFraction = english ? 0.05 : 0.1
            return (CharLMConfiguration(vocabulary: vocabulary, embeddingSize: english ? 64 : 128,
                                        recurrent: RecurrentConfiguration(cell: .lstm, inputSize: english ? 64 : 128, hiddenSize: 256,
                                                                          numLayers: 2, dropout: 0.2, outputDropout: 0.2)), t)
        }
    }
}
