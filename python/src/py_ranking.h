#ifndef CRANK_PYTHON_PY_RANKING_H_
#define CRANK_PYTHON_PY_RANKING_H_

// crank.Ranking: the Python face of one model (docs/python.md). It holds a job configuration
// (JobConfig: the YAML file's sections, the same struct the CLI fills) and, once trained,
// loaded or built, the model with its data mapping and training state.
//
// Every long call (fit, evaluate, predict, train_step) runs with the GIL released; evaluate,
// predict and batches over files check for Ctrl-C before each batch (KeyboardInterrupt after
// the current batch). A
// shared mutex orders them: fit, train_step, compile and set_compute are exclusive, evaluate
// and predict may run on several Python threads at once (const Predict, one workspace per
// call). fit runs crank's Trainer (train/trainer.h) with a hook that, after each step, takes the
// GIL briefly to check for Ctrl-C (PyErr_CheckSignals) and to call the Python callbacks; a
// signal or a callback that raises stops the run the way a hook's kStop does (checkpoint
// written, model published) and the exception is raised again when fit returns.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "crank/data/mapping.h"
#include "crank/io/load_model.h"
#include "crank/kernels/compute_settings.h"
#include "crank/train/job_config.h"
#include "crank/train/precision_choice.h"
#include "crank/train/trainer.h"

namespace crank::python {

namespace py = pybind11;

// The owner of a model: a Trainer (after fit), a LoadedModel (crank.load) or a model built from
// the configuration (numpy use before any fit). Shared with the numpy views of its tables, so a
// view stays valid after the Python object moves on to another model.
struct ModelHolder {
  std::unique_ptr<Trainer> trainer;
  LoadedModel loaded;
  std::unique_ptr<Ranking> built;
  Ranking* model = nullptr;
};

class InterruptibleReader;

class PyRanking {
 public:
  explicit PyRanking(JobConfig config);
  ~PyRanking();

  // crank.load: the model file (or checkpoint) with its stored configuration and state.
  static std::unique_ptr<PyRanking> Load(const std::string& path);

  // Optimizers (OptimizerConfig; nullopt keeps the configured one). Replaces the optimizer
  // of a model that has one (its slots start afresh).
  void Compile(const std::optional<OptimizerConfig>& embedding,
               const std::optional<OptimizerConfig>& dense);
  // Per-model thread count (0: all cores) and GEMM precision ("fp32" | "bf16").
  void SetCompute(std::optional<int> threads, std::optional<std::string> precision);

  // Trains on `train_files` with the Trainer; returns the run's summary as a dict. A model
  // already trained (or stepped with train_step) continues from its weights and optimizer
  // state for `epochs` more epochs. Files not given (nullopt) are the configuration's
  // data.train / data.eval, as for `crank train --config`.
  py::dict Fit(std::optional<std::vector<std::string>> train_files,
               std::optional<std::vector<std::string>> eval_files, std::optional<int64_t> epochs,
               std::optional<int64_t> max_steps, const py::list& callbacks,
               const std::string& checkpoint, bool verbose);
  py::dict Evaluate(const std::vector<std::string>& files, const std::string& rows,
                    int64_t batch_size);
  py::array_t<float> PredictFiles(const std::vector<std::string>& files, int64_t batch_size);
  py::array_t<float> PredictInputs(const py::dict& inputs);
  py::dict TrainStep(const py::dict& inputs, const py::object& labels,
                     const py::object& sample_weight);
  // The batches a reader of the model's mapping makes from `files`, as model-space dicts.
  py::list Batches(const std::vector<std::string>& files, const std::string& rows,
                   int64_t batch_size);

  void Save(const std::string& path);
  // A read-only numpy view (V, E) of the embedding table of feature `name`.
  py::array_t<float> EmbeddingTable(const std::string& name);

  // The model-space inputs: [(name, dtype, shape)], shape entries -1 for B or nnz.
  py::list InputSpecs();
  std::string ConfigYaml() const { return config_.ToYaml(); }
  py::dict State() const;
  py::dict Summary();
  bool built() const { return holder_ != nullptr; }

 private:
  // Builds the model from the configuration when there is none (mapping from the configured
  // training files, or empty vocabularies without any).
  void EnsureBuilt();
  // EnsureBuilt under the lock, without the GIL; the mapping of the built model.
  std::shared_ptr<const DataMapping> BuiltMapping();
  // Gives the model the configured optimizer when it has none.
  void EnsureOptimizer();
  // The compute settings; auto precision resolves with `batch_size` (default: the configuration's).
  ComputeSettings Settings(std::optional<int64_t> batch_size = std::nullopt) const;
  std::unique_ptr<InterruptibleReader> OpenReader(const std::vector<std::string>& files,
                                                  const std::string& rows, RowSplit default_split,
                                                  ErrorPolicy policy, int64_t batch_size) const;
  // A directory of this object's own (fit's default checkpoint), created on first use.
  const std::string& WorkDir();

  JobConfig config_;
  std::optional<int> threads_;
  std::optional<PrecisionSetting> precision_;  // set_compute's (auto: nullopt inside)
  std::shared_ptr<ModelHolder> holder_;
  std::shared_ptr<const DataMapping> mapping_;
  TrainingState state_;
  std::string loaded_from_;  // the file crank.load read (its optimizer state)
  std::string workdir_;
  Batch batch_;  // train_step's batch (exclusive)
  mutable std::shared_mutex mutex_;
};

}  // namespace crank::python

#endif  // CRANK_PYTHON_PY_RANKING_H_
