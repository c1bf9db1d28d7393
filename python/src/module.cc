// crank._crank: the extension module behind the Python package `crank` (docs/python.md).
// The Python classes in crank/__init__.py wrap what is defined here.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/optim/factory.h"
#include "crank/train/config_overrides.h"
#include "crank/train/job_config.h"
#include "py_ranking.h"
#include "runtime.h"

namespace crank::python {
namespace {

// ConfigOverrides from keyword arguments (crank.RankingConfig(**options), from_yaml(path,
// **options)): the same policy as the CLI's flags (JobConfig::ApplyOverrides).
ConfigOverrides OverridesFromDict(const py::dict& options) {
  ConfigOverrides o;
  using Setter = std::function<void(const py::handle&)>;
  const auto set = [](auto* field) {
    return Setter([field](const py::handle& v) {
      *field = v.cast<typename std::remove_reference_t<decltype(*field)>::value_type>();
    });
  };
  const std::map<std::string, Setter> setters = {
      {"train_files", set(&o.train_files)},
      {"eval_files", set(&o.eval_files)},
      {"format", set(&o.format)},
      {"interaction", set(&o.interaction)},
      {"pooling", set(&o.pooling)},
      {"embedding_precision", set(&o.embedding_precision)},
      {"precision", set(&o.precision)},
      {"bad_rows", set(&o.bad_rows)},
      {"embedding_dim", set(&o.embedding_dim)},
      {"hash_buckets", set(&o.hash_buckets)},
      {"min_count", set(&o.min_count)},
      {"bottom", set(&o.bottom)},
      {"top", set(&o.top)},
      {"epochs", set(&o.epochs)},
      {"batch_size", set(&o.batch_size)},
      {"checkpoint_every", set(&o.checkpoint_every)},
      {"shuffle_buffer", set(&o.shuffle_buffer)},
      {"eval_every", set(&o.eval_every)},
      {"early_stopping_patience", set(&o.early_stopping_patience)},
      {"max_steps", set(&o.max_steps)},
      {"learning_rate", set(&o.learning_rate)},
      {"embedding_learning_rate", set(&o.embedding_learning_rate)},
      {"dense_learning_rate", set(&o.dense_learning_rate)},
      {"threads", set(&o.threads)},
      {"seed", set(&o.seed)},
      {"in_memory", set(&o.in_memory)},
  };
  for (const auto& [key, value] : options) {
    const std::string k = py::cast<std::string>(key);
    auto it = setters.find(k);
    if (it == setters.end()) {
      std::string known;
      for (const auto& [name, _] : setters) known += (known.empty() ? "" : ", ") + name;
      throw py::type_error(fmt::format("unknown option '{}' (options: {})", k, known));
    }
    try {
      it->second(value);
    } catch (const py::cast_error&) {
      throw py::type_error(fmt::format("option '{}': cannot use {} ({})", k,
                                       std::string(py::repr(value)),
                                       std::string(py::str(value.get_type().attr("__name__")))));
    }
  }
  return o;
}

JobConfig WithOverrides(JobConfig config, const py::dict& options) {
  config.ApplyOverrides(OverridesFromDict(options));
  config.Validate();
  return config;
}

// OptimizerConfig from {"kind", "learning_rate", and the kind's fields}.
std::optional<OptimizerConfig> OptimizerFromDict(const py::object& obj) {
  if (obj.is_none()) return std::nullopt;
  const py::dict d = obj.cast<py::dict>();
  OptimizerConfig c;
  for (const auto& [key, value] : d) {
    const std::string k = py::cast<std::string>(key);
    if (k == "kind") {
      c.kind = value.cast<std::string>();
    } else if (k == "learning_rate") {
      c.learning_rate = value.cast<float>();
    } else if (k == "momentum") {
      c.momentum = value.cast<float>();
    } else if (k == "nesterov") {
      c.nesterov = value.cast<bool>();
    } else if (k == "beta_1") {
      c.beta_1 = value.cast<float>();
    } else if (k == "beta_2") {
      c.beta_2 = value.cast<float>();
    } else if (k == "epsilon") {
      c.epsilon = value.cast<float>();
    } else if (k == "initial_accumulator_value") {
      c.initial_accumulator_value = value.cast<float>();
    } else {
      throw py::type_error(fmt::format("optimizer: unknown field '{}'", k));
    }
  }
  return c;
}

}  // namespace
}  // namespace crank::python

PYBIND11_MODULE(_crank, m) {
  namespace py = pybind11;
  using crank::python::PyRanking;
  m.doc() = "crank's extension module; use the package `crank` (docs/python.md)";

  static py::exception<crank::ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<crank::DataError> data_error(m, "DataError", PyExc_Exception);
  static py::exception<crank::NumericError> numeric_error(m, "NumericError", PyExc_ArithmeticError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const crank::ConfigError& e) {
      PyErr_SetString(config_error.ptr(), e.what());
    } catch (const crank::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const crank::DataError& e) {
      PyErr_SetString(data_error.ptr(), e.what());
    } catch (const crank::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const crank::NumericError& e) {
      PyErr_SetString(numeric_error.ptr(), e.what());
    }
  });

  // The configuration's YAML, and whether it gives a Criteo encoding: the YAML always names one,
  // so without this flag a configuration that left it to the default rule (docs/defaults.md,
  // "The encoding rule") would read back as one that gave hashing.
  m.def("_config_yaml", [](const std::string& path, const py::dict& options) {
    crank::JobConfig c = path.empty() ? crank::JobConfig() : crank::JobConfig::FromYamlFile(path);
    c = crank::python::WithOverrides(std::move(c), options);
    return py::make_tuple(c.ToYaml(), c.data.criteo.encoding_given, c.train.batch_size_given);
  });
  m.def(
      "generate_synthetic",
      [](const std::string& path, int64_t rows, uint64_t seed, uint64_t teacher_seed,
         bool labelled) {
        crank::SyntheticOptions o;
        o.rows = rows;
        o.seed = seed;
        o.teacher_seed = teacher_seed;
        o.labelled = labelled;
        o.Validate();
        py::gil_scoped_release nogil;
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        if (!out) throw crank::IoError(fmt::format("cannot write {}: cannot open it", path));
        const crank::SyntheticSummary s = crank::GenerateSyntheticCriteo(o, out);
        out.close();
        if (!out) throw crank::IoError(fmt::format("cannot write {}: write failed", path));
        return s.rows;
      },
      py::arg("path"), py::arg("rows"), py::arg("seed") = 1, py::arg("teacher_seed") = 1,
      py::arg("labelled") = true,
      "Writes `rows` synthetic Criteo-format rows (as `crank gen`) to path; returns the count.");
  m.def("_runtime_info", &crank::python::RuntimeInfo);
  m.def("_set_log_level", [](const std::string& level) {
    if (level == "debug") {
      crank::SetLogLevel(crank::LogLevel::kDebug);
    } else if (level == "info") {
      crank::SetLogLevel(crank::LogLevel::kInfo);
    } else if (level == "warning") {
      crank::SetLogLevel(crank::LogLevel::kWarning);
    } else if (level == "error") {
      crank::SetLogLevel(crank::LogLevel::kError);
    } else {
      throw py::value_error("log level: expected debug, info, warning or error, got '" + level +
                            "'");
    }
  });

  py::class_<PyRanking>(m, "_Ranking")
      .def(py::init([](const std::string& yaml, const std::string& name, bool encoding_given,
                       bool batch_size_given) {
             crank::JobConfig c = crank::JobConfig::FromYamlString(yaml, name);
             // Not given: Ranking.fit chooses them from the training data, as crank train does.
             if (!encoding_given) c.data.criteo.encoding_given = false;
             if (!batch_size_given) c.train.batch_size_given = false;
             return std::make_unique<PyRanking>(std::move(c));
           }),
           py::arg("yaml"), py::arg("name"), py::arg("encoding_given") = true,
           py::arg("batch_size_given") = true)
      .def_static("load", &PyRanking::Load)
      .def("compile",
           [](PyRanking& r, const py::object& embedding, const py::object& dense) {
             r.Compile(crank::python::OptimizerFromDict(embedding),
                       crank::python::OptimizerFromDict(dense));
           })
      .def("set_compute", &PyRanking::SetCompute)
      .def("fit", &PyRanking::Fit)
      .def("evaluate", &PyRanking::Evaluate)
      .def("predict_files", &PyRanking::PredictFiles)
      .def("predict_inputs", &PyRanking::PredictInputs)
      .def("train_step", &PyRanking::TrainStep)
      .def("batches", &PyRanking::Batches)
      .def("save", &PyRanking::Save)
      .def("embedding_table", &PyRanking::EmbeddingTable)
      .def("input_specs", &PyRanking::InputSpecs)
      .def("config_yaml", &PyRanking::ConfigYaml)
      .def("state", &PyRanking::State)
      .def("summary", &PyRanking::Summary)
      .def_property_readonly("built", &PyRanking::built);
}
