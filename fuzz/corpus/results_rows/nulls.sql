INSERT INTO experiments VALUES('e','f','{}',NULL,'t','t');
INSERT INTO experiment_tasks VALUES('e','t','acc',1);
INSERT INTO runs(run_id,experiment,arm,seed,family,config_json,train_json,default_depth,status) VALUES('e/a/seed0','e','a',0,'x','{}','{}',1,'running');
INSERT INTO eval_results VALUES('e/a/seed0','ck','t',1,'acc',NULL,0,NULL,'{}','t');
INSERT INTO checkpoints VALUES('e/a/seed0','ck',-1,-5,'/','t');
