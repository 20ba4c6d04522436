# nb_log's settings (funboost logs through nb_log): plain `print`, no colour codes, log files in
# ./logs beside this file instead of ~/pythonlogs.
from pathlib import Path

LOG_PATH = str(Path(__file__).resolve().parent / 'logs')
AUTO_PATCH_PRINT = False
DEFAULUT_USE_COLOR_HANDLER = False
SHOW_PYCHARM_COLOR_SETINGS = False
SHOW_NB_LOG_LOGO = False
SHOW_IMPORT_NB_LOG_CONFIG_PATH = False
