import ArgumentParser
import Foundation
import RNNKit

/// Progress display: a live line on a terminal (stderr), nothing in between epochs otherwise.
struct ProgressLine {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast

    mutating func update(_ r: StepReport, totalEpochs: Int, epochStart: Date) {
        guard isTerminal, Date().timeIntervalSince(lastDraw) > 0.1 || r.step == r.stepsInEpoch else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(epochStart)
        let eta = elapsed / Double(r.step) * Double(r.stepsInEpoch - r.step)
        let line = String(format: "epoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %@",
                          r.epoch, totalEpochs, r.step, r.stepsInEpoch, r.loss, 100 * r.accuracy, r.samplesPerSecond,
                          formatDuration(eta))
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
    }

    func clear() {
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%d:%02d", s / 60, s % 60)
}

/// Prints one JSON object on one line (the last line of a `--json` run). JSON has no NaN or
/// infinity, so a non-finite number is written as null.
func printJSONLine(_ object: [String: Any]) {
    let finite = object.mapValues { value -> Any in
        if let d = value as? Double, !d.isFinite { return NSNull() }
        return value
    }
    let data = try! JSONSerialization.data(withJSONObject: finite, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// Class names of the usual data sets, chosen by the data folder's name.
func classNames(forDataAt directory: String, classes: Int) -> [String] {
    if directory.lowercased().contains("fashion") && classes == 10 {
        return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    }
    return (0..<classes).map(String.init)
}

/// `--model DIR [--data DIR]`: a saved classifier and the test images it is evaluated on.
struct SavedModelOptions: ParsableArguments {
    @Option(help: "Checkpoint folder (config.json and model.safetensors).") var model: String
    @Option(help: "Folder with the MNIST files (default: the one the model was trained on).") var data: String?

    /// Loads the model for evaluation and the test split, checking the images fit the model.
    func load() throws -> (checkpoint: ClassifierCheckpoint.Loaded, test: ImageClassificationData, directory: String) {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false)
        let directory = data ?? loaded.configuration.data.source
        let test = try MNIST.load(directory: directory, split: .test)
        guard test.columns == loaded.configuration.model.features else {
            throw ValidationError("\(directory): images have \(test.columns) columns but the model in \(model) reads "
                                  + "\(loaded.configuration.model.features) features per step.")
        }
        return (loaded, test, directory)
    }
}
