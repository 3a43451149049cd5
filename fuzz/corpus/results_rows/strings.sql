INSERT INTO experiments VALUES('e','f','{}','b','t','t');
INSERT INTO experiment_tasks VALUES('e','t','exact_match,whole','yes');
INSERT INTO runs(run_id,experiment,arm,seed,family,config_json,train_json,params,default_depth,status,tokens_trained) VALUES('e/a/seed0','e','a','zero','x','{}','{}','many','deep','odd','lots');
INSERT INTO eval_results VALUES('e/a/seed0','ck','t','one','exact_match,whole','high',1,'x','{}','t');
INSERT INTO checkpoints VALUES('e/a/seed0','ck','s','tok','/','t');
