import ArgumentParser
import Foundation
import RNNKit

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Predict with a saved model.", subcommands: [PredictMNIST.self, PredictSequences.self, PredictForecast.self, CharLMPredict.self])
}

struct PredictMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist", abstract: "Draw one test image in the terminal and show the model's class probabilities.")

    @OptionGroup var saved: SavedModelOptions
    @Option(help: "Which test image (0-based).") var index: Int

    func run() throws {
        let (loaded, test, _) = try saved.load()
        guard index >= 0 && index < test.count else {
            throw ValidationError("--index must be in 0..<\(test.count) for the \(test.count) test images (found \(index)).")
        }
        let (image, labels) = test.batch([index])
        let shades = Array(" ░▒▓█")
        for r in 0..<test.rows {
            print(String((0..<test.columns).flatMap { c -> [Character] in
                let s = shades[min(shades.count - 1, Int(image[0, r, c] * Float(shades.count)))]
                return [s, s]
            }))
        }
        let names = loaded.configuration.data.classNames
        func name(_ i: Int) -> String { i < names.count ? names[i] : String(i) }
        let probabilities = try loaded.model.logits(image).softmaxRows()
        let predicted = probabilities.argmaxRows()[0]
        print("test image \(index): true class \(labels[0]) (\(name(labels[0]))), predicted \(predicted) (\(name(predicted)))")
        for c in 0..<probabilities.shape[1] {
            let p = Double(probabilities[0, c])
            let label = name(c).padding(toLength: 12, withPad: " ", startingAt: 0)
            print(String(format: "%2d ", c) + label + String(format: " %6.2f%% ", 100 * p) + String(repeating: "█", count: Int((p * 40).rounded())))
        }
    }
}
