"""Tables stored in 16 bits (embedding_precision="bf16" | "fp16") through the Python API."""

import numpy as np
import pytest

import crank
from conftest import SMALL


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_sixteen_bit_tables_train_save_load_and_predict(criteo, tmp_path, precision):
    model = crank.Ranking(embedding_precision=precision, **SMALL)
    model.fit(str(criteo / "train.tsv"), verbose=0)
    assert model.evaluate(str(criteo / "eval.tsv"))["auc"] > 0.55
    table = model.embedding_table("C1")
    assert table.dtype == np.float32 and table.shape[1] == 8
    assert not table.flags.writeable
    # Every value is a 16-bit number widened: bf16 keeps the upper 16 bits of a float, fp16
    # values survive a round trip through numpy's float16.
    if precision == "bf16":
        assert not np.any(table.view(np.uint32) & 0xFFFF)
    else:
        np.testing.assert_array_equal(table.astype(np.float16).astype(np.float32), table)
    predictions = model.predict(str(criteo / "eval.tsv"))
    model.save(tmp_path / "m.crank")
    loaded = crank.load(tmp_path / "m.crank")
    np.testing.assert_array_equal(loaded.predict(str(criteo / "eval.tsv")), predictions)
    np.testing.assert_array_equal(loaded.embedding_table("C1"), table)


def test_a_bad_embedding_precision_names_the_option():
    with pytest.raises(ValueError, match="embedding-precision: expected fp32, bf16 or fp16"):
        crank.Ranking(embedding_precision="fp8", **SMALL)
