# make run   installs, fetches the data, runs the whole notebook headless (outputs stored in it) and exports HTML
# make test  installs and runs every test: the unit tests and the notebook under nbval in its short mode
PYTHON ?= python3
SHARED_DATA := $(abspath ../shared/data)
# The offline copy of the data beside this repository, when there is one; else the public mirrors.
export DLND_DATA_SOURCE ?= $(if $(wildcard $(SHARED_DATA)/mnist),$(SHARED_DATA),)
NOTEBOOK := dlnd_face_generation.ipynb

.PHONY: install data run test bench review submission release

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt

data: install
	$(PYTHON) -c "import helper; helper.download_extract('mnist'); helper.download_extract('celeba')"

run: data
	$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=-1 $(NOTEBOOK)
	$(PYTHON) -m jupyter nbconvert --to html --output-dir build $(NOTEBOOK)

test: install
	DLND_SMOKE_TEST=1 $(PYTHON) -m pytest --nbval tests $(NOTEBOOK)

bench: install data
	$(PYTHON) bench/bench_data.py
	$(PYTHON) bench/bench_train.py

review:
	$(PYTHON) -m dlnd.review $(NOTEBOOK)

submission:
	$(PYTHON) -m dlnd.submit $(NOTEBOOK) -o submission.zip

release:
	$(PYTHON) -m dlnd.release $(NOTEBOOK) -o release/$(NOTEBOOK)
