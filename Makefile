# make run   installs, fetches the data, runs both notebooks headless (outputs stored in them) and exports HTML
# make test  installs and runs every test: each notebook alone on Colab's packages (tests/compat.py colab), then the
#            unit tests and both notebooks under nbval in their short mode
# One notebook only: make run NOTEBOOKS=gan_variants.ipynb
# make compat  each notebook alone in an empty folder, on Colab's packages, TensorFlow 2.16 and the newest
PYTHON ?= python3
SHARED_DATA := $(abspath ../shared/data)
# The offline copy of the data beside this repository, when there is one; else the public mirrors.
export DLND_DATA_SOURCE ?= $(if $(wildcard $(SHARED_DATA)/mnist),$(SHARED_DATA),)
NOTEBOOKS ?= dlnd_face_generation.ipynb gan_variants.ipynb

.PHONY: install data run test compat bench review submission release

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt

data: install
	$(PYTHON) -c "import helper; [helper.download_extract(name) for name in ('mnist', 'celeba', 'flowers')]"

run: data
	$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=-1 $(NOTEBOOKS)
	$(PYTHON) -m jupyter nbconvert --to html --output-dir build $(NOTEBOOKS)

test: install
	$(PYTHON) tests/compat.py colab
	DLND_SMOKE_TEST=1 $(PYTHON) -m pytest --nbval tests $(NOTEBOOKS)

compat: install
	$(PYTHON) tests/compat.py $(COMPAT)

bench: install data
	$(PYTHON) bench/bench_data.py
	$(PYTHON) bench/bench_train.py

review:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd.review $$notebook || exit 1; done

submission:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd.submit $$notebook -o submission_$${notebook%.ipynb}.zip || exit 1; done

release:
	for notebook in $(NOTEBOOKS); do $(PYTHON) -m dlnd.release $$notebook || exit 1; done
