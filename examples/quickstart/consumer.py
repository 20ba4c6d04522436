"""The README's quick-start consumer: a plain funboost worker for `test_queue`.

Run it from this directory, so funboost and nb_log find the two config files beside it
(funboost reads `funboost_config.py` from the script's directory):

    cd examples/quickstart && python consumer.py

Starting it registers `test_queue` in Redis (`funboost_all_queue_names`, and `add`'s parameter
names in `funboost_queue__consumer_parmas`), which funboost-edge needs before it accepts a
timing job for the queue. Every message funboost-edge fires into the queue becomes one call of
`add`, printed as `add(x=1, y=2) = 3`. Ctrl-C stops it. tests/readme_examples_work_as_written.rs
runs this same file.
"""

from funboost import BoosterParams, BrokerEnum, boost


@boost(BoosterParams(queue_name='test_queue', broker_kind=BrokerEnum.REDIS, concurrent_num=4))
def add(x, y):
    print(f'add(x={x}, y={y}) = {x + y}', flush=True)
    return x + y


if __name__ == '__main__':
    add.consume()
