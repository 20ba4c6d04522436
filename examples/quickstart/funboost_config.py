# funboost's settings for the quick-start consumer: the Redis funboost-edge uses by default
# (spin.toml's redis_url, redis://127.0.0.1:6379/7; DB 7 is funboost's default) and the same
# time zone as funboost-edge's `timezone` variable.
import logging

from funboost.utils.simple_data_class import DataClassBase


class BrokerConnConfig(DataClassBase):
    REDIS_HOST = '127.0.0.1'
    REDIS_PORT = 6379
    REDIS_DB = 7
    REDIS_USERNAME = ''
    REDIS_PASSWORD = ''
    REDIS_DB_FILTER_AND_RPC_RESULT = 8
    REDIS_URL = 'redis://127.0.0.1:6379/7'


class FunboostCommonConfig(DataClassBase):
    TIMEZONE = 'Asia/Shanghai'
    SHOW_HOW_FUNBOOST_CONFIG_SETTINGS = False
    FUNBOOST_PROMPT_LOG_LEVEL = logging.INFO  # no dump of every setting at start
    KEEPALIVETIMETHREAD_LOG_LEVEL = logging.INFO
